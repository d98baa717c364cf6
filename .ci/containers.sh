#!/usr/bin/env bash
# CI stage: proves the container path for real, on a Debian 12 root machine with no container runtime.
#
#   1. installs debootstrap, squashfs-tools, squashfuse, uidmap, patchelf (apt-get);
#   2. gets apptainer: whatever version Debian sid has now (apt checks the package against sid's
#      signed index), unpacked into a private tree, its two ELF binaries pointed at sid's own glibc
#      (the one it is built against; Debian 12 has 2.36, apptainer 1.4 needs >= 2.38) with patchelf
#      (recipe 2 of the CI notes). apptainer is not installed system-wide; its tree is cached per version;
#   3. builds containers/torch-cpu.def and containers/tensorflow-cpu.def (Bootstrap: debootstrap from
#      the machine's own Debian mirror, no container registry) with `apptainer build --fakeroot`,
#      in parallel, cached under $CACHE/images keyed by the sha256 of the definition and its inputs;
#   4. `apptainer inspect` and `apptainer test` (the %test section) of each image;
#   5. tests/containers: a dry run with --use-singularity gives every training job its image, then the
#      tiny config through `snakemake --use-singularity` for real (user-namespace mode, -u), each
#      containerised result recording /.singularity.d and its image, and every fitted w, b and loss
#      history equal to a local run's (rtol 1e-5).
#
# Needs: root, .venv (./setup.sh), network to the Debian mirror and PyPI, the local torch CPU wheel in
# $PIP_FIND_LINKS (PyPI only has the multi-GB CUDA build). Exits non-zero on any failure or skipped test.
# Leaves no process or mount behind; /etc/subuid and /etc/subgid get a root entry only while images
# build, and are put back byte for byte.
# Env: TALE_OF_TWO_CACHE (default /var/cache/tale-of-two), TALE_OF_TWO_REBUILD=1 (ignore cached images).
# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$(pwd -P)

# apptainer and the glibc it runs on come from Debian sid, whichever version sid has now: sid keeps one
# version of each, so a pin would break this stage whenever sid moves on. apt verifies both packages
# against sid's Release file, signed by the Debian archive key.
SUITE=sid
IMAGES=(torch-cpu tensorflow-cpu)
HOST_PACKAGES=(debootstrap squashfs-tools squashfuse uidmap patchelf)

CACHE=${TALE_OF_TWO_CACHE:-/var/cache/tale-of-two}
[ "$(id -u)" = 0 ] || die "needs root (apt-get, debootstrap, /etc/subuid)"
grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release ||
    say "warning: not Debian 12 (bookworm); this stage was written for it"

WORK=$(mktemp -d /var/tmp/tale-of-two-containers.XXXXXX)
export APPTAINER_TMPDIR=$WORK/tmp # build trees: removed with $WORK even when a build is stopped
mkdir -p "$APPTAINER_TMPDIR"
declare -A BUILDING=() # image builds running: process (group) id -> image name
PARTIALS=()            # image files being written
SUBID_SAVED=0
restore_subids() {
    if [ $SUBID_SAVED = 1 ]; then
        local file
        for file in subuid subgid; do
            if [ -e "$WORK/$file" ]; then cp -p "$WORK/$file" "/etc/$file"; else rm -f "/etc/$file"; fi
        done
        say "restored /etc/subuid, /etc/subgid"
        SUBID_SAVED=0
    fi
}
grant_root_subids() { # `apptainer build --fakeroot` maps root's build into a range of /etc/subuid
    grep -qs '^root:' /etc/subuid && grep -qs '^root:' /etc/subgid && return 0
    local file
    for file in subuid subgid; do
        if [ -e "/etc/$file" ]; then cp -p "/etc/$file" "$WORK/$file"; fi
    done
    SUBID_SAVED=1
    grep -qs '^root:' /etc/subuid || echo "root:1000000:65536" >>/etc/subuid
    grep -qs '^root:' /etc/subgid || echo "root:1000000:65536" >>/etc/subgid
}

cleanup() {
    local status=$?
    for pid in "${!BUILDING[@]}"; do # only the builds this script started, each its own group
        say "stopping the ${BUILDING[$pid]} build (process group $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -f "${PARTIALS[@]}"
    restore_subids
    rm -rf "$WORK"
    if [ $status -eq 0 ]; then
        say "passed in $(($(date +%s) - STARTED_AT)) s"
    else
        say "FAILED (exit $status) after $(($(date +%s) - STARTED_AT)) s"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
# 1. Host packages.
missing=()
for package in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    apt-get update -qq || die "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1 ||
        {
            tail -30 "$WORK/apt.log" >&2
            die "apt-get install ${missing[*]}"
        }
fi

# The Debian mirror this machine's apt already uses (it is reachable): the images' MirrorURL, and
# where sid's apptainer comes from.
MIRROR=$(
    python3 - <<'PY'
import glob, re
uris = []
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]:
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for block in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", block, re.M))
            if fields.get("Enabled", "yes") != "no" and "bookworm" in fields.get("Suites", "").split():
                uris += fields.get("URIs", "").split()
    else:
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == "bookworm":
                uris.append(words[1])
debian = [u for u in uris if "security" not in u]
print(debian[0].rstrip("/") if debian else "")
PY
)
[ -n "$MIRROR" ] || die "found no Debian bookworm mirror in /etc/apt/sources.list*"
say "Debian mirror: $MIRROR"

# ---------------------------------------------------------------------------------------------------
# 2. apptainer, unpacked into $CACHE/apptainer/<version> (recipe 2 of the CI notes).
# A private apt state for sid (the system's apt is untouched), kept in the cache between runs.
apt_dir=$CACHE/apt-$SUITE
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" >"$apt_dir/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
    -o APT::Sandbox::User=root -o Debug::NoLocking=1)
apt-get "${apt_private[@]}" update -qq >"$WORK/apt-$SUITE.log" 2>&1 || {
    cat "$WORK/apt-$SUITE.log" >&2
    die "apt-get update of Debian $SUITE (a private list, the system's apt state untouched)"
}
candidate() { apt-cache "${apt_private[@]}" policy "$1" | sed -n 's/^ *Candidate: //p'; }
APPTAINER_DEB_VERSION=$(candidate apptainer)
LIBC_VERSION=$(candidate libc6)
case "$APPTAINER_DEB_VERSION/$LIBC_VERSION" in
    /* | */ | *"(none)"*) die "Debian $SUITE offers no apptainer or libc6 (apptainer: '$APPTAINER_DEB_VERSION', libc6: '$LIBC_VERSION')" ;;
esac
APPTAINER_ROOT=$CACHE/apptainer/$APPTAINER_DEB_VERSION-libc$LIBC_VERSION
if [ ! -f "$APPTAINER_ROOT/.complete" ] || ! "$APPTAINER_ROOT/usr/bin/apptainer" --version >/dev/null 2>&1; then
    say "installing apptainer $APPTAINER_DEB_VERSION with glibc $LIBC_VERSION (Debian $SUITE) into $APPTAINER_ROOT"
    debs=$WORK/debs
    mkdir -p "$debs"
    # apt-get download checks each .deb against the hashes of sid's signed index.
    (cd "$debs" && apt-get "${apt_private[@]}" download "apptainer=$APPTAINER_DEB_VERSION" "libc6=$LIBC_VERSION") \
        >>"$WORK/apt-$SUITE.log" 2>&1 || {
        cat "$WORK/apt-$SUITE.log" >&2
        die "download of apptainer=$APPTAINER_DEB_VERSION and libc6=$LIBC_VERSION from Debian $SUITE"
    }
    deb=$(ls "$debs"/apptainer_*.deb)
    libc_deb=$(ls "$debs"/libc6_*.deb)

    staging=$CACHE/apptainer/.staging-$$
    rm -rf "$staging"
    mkdir -p "$staging/libc"
    dpkg-deb -x "$deb" "$staging"
    dpkg-deb -x "$libc_deb" "$staging/libc"
    libc_dir=$APPTAINER_ROOT/libc/usr/lib/x86_64-linux-gnu # final location: RPATH and interpreter are absolute
    for binary in usr/bin/apptainer usr/lib/x86_64-linux-gnu/apptainer/bin/starter; do
        patchelf --set-interpreter "$libc_dir/ld-linux-x86-64.so.2" --force-rpath \
            --set-rpath "$libc_dir:/lib/x86_64-linux-gnu" "$staging/$binary" || die "patchelf $binary"
    done
    # apptainer finds its config, state and helpers relative to its prefix (usr/).
    ln -s ../etc "$staging/usr/etc"
    ln -s ../../etc "$staging/usr/lib/etc"
    ln -s ../var "$staging/usr/lib/var"
    mkdir -p "$staging/usr/var/lib/apptainer/mnt/session"
    echo "apptainer $APPTAINER_DEB_VERSION, libc6 $LIBC_VERSION (Debian $SUITE)" >"$staging/VERSIONS"
    touch "$staging/.complete"
    rm -rf "$APPTAINER_ROOT"
    mv "$staging" "$APPTAINER_ROOT"
    for old in "$CACHE"/apptainer/*; do # trees of versions sid no longer has
        [ "$old" = "$APPTAINER_ROOT" ] || rm -rf "$old"
    done
fi
export PATH=$APPTAINER_ROOT/usr/bin:$PATH
export APPTAINER_CACHEDIR=$CACHE/apptainer-cache
APPTAINER_VERSION=$(apptainer --version) || die "apptainer does not run"
say "$APPTAINER_VERSION from $APPTAINER_ROOT ($(cat "$APPTAINER_ROOT/VERSIONS"))"

# ---------------------------------------------------------------------------------------------------
# 3. The CPU images, keyed by the sha256 of the definition and everything else that goes into them.
WHEELS=${PIP_FIND_LINKS:-}
if [ -z "$WHEELS" ] || [ ! -d "$WHEELS" ]; then
    WHEELS=$WORK/no-wheels # torch-cpu.def then fails loudly: torch==2.13.0+cpu is not on PyPI
    mkdir -p "$WHEELS"
    say "warning: PIP_FIND_LINKS is not a directory; the torch image needs the torch 2.13.0+cpu wheel there"
fi
CA_BUNDLE=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
[ -f "$CA_BUNDLE" ] || die "CA bundle $CA_BUNDLE is missing"
BUILD_ARGS=(--build-arg "mirror=$MIRROR" --build-arg "wheels=$WHEELS" --build-arg "ca_bundle=$CA_BUNDLE")
# torch-cpu.def's default extra index (the PyTorch CPU index) is unreachable from our CI machines:
# torch comes from the wheel folder alone.
declare -A IMAGE_ARGS=([torch-cpu]="torch_index=" [tensorflow-cpu]="")
image_args() { # the build arguments of image $1
    local args=("${BUILD_ARGS[@]}")
    if [ -n "${IMAGE_ARGS[$1]}" ]; then args+=(--build-arg "${IMAGE_ARGS[$1]}"); fi
    printf '%s\n' "${args[@]}"
}

mkdir -p "$CACHE/images"
declare -A SIF
to_build=()
for name in "${IMAGES[@]}"; do
    definition=containers/$name.def
    [ -f "$definition" ] || die "$definition is missing"
    key=$({
        cat "$definition"
        echo "$APPTAINER_VERSION"
        image_args "$name"
        ls -l "$WHEELS"
    } | sha256sum | cut -c1-16)
    SIF[$name]=$CACHE/images/$name-$key.sif
    if [ -f "${SIF[$name]}" ] && [ "${TALE_OF_TWO_REBUILD:-0}" != 1 ]; then
        say "$name: cached ${SIF[$name]}"
    else
        to_build+=("$name")
    fi
done

if [ ${#to_build[@]} -gt 0 ]; then
    grant_root_subids
    for name in "${to_build[@]}"; do
        say "$name: building ${SIF[$name]} (log: $WORK/build-$name.log)"
        # setsid: each build is its own process group, so that stopping it stops all of it.
        mapfile -t args < <(image_args "$name")
        setsid apptainer build --force --fakeroot --bind "$WHEELS" "${args[@]}" \
            --mksquashfs-args "-comp zstd -Xcompression-level 3" \
            "${SIF[$name]}.partial" "containers/$name.def" >"$WORK/build-$name.log" 2>&1 &
        BUILDING[$!]=$name
        PARTIALS+=("${SIF[$name]}.partial")
    done
    while [ ${#BUILDING[@]} -gt 0 ]; do # in the order they finish; the first failure stops the rest
        finished=
        if wait -n -p finished "${!BUILDING[@]}"; then
            name=${BUILDING[$finished]}
            unset "BUILDING[$finished]"
            mv "${SIF[$name]}.partial" "${SIF[$name]}"
            say "$name: built, $(du -h "${SIF[$name]}" | cut -f1)"
        else
            name=${BUILDING[$finished]}
            unset "BUILDING[$finished]"
            echo "----- last lines of the $name build ($WORK/build-$name.log) -----" >&2
            grep -v -e '^I: ' -e '━' "$WORK/build-$name.log" | tail -40 >&2
            die "image build failed: $name" # cleanup stops the other builds
        fi
    done
    PARTIALS=()
    restore_subids
    for name in "${IMAGES[@]}"; do # earlier builds of the same image, superseded
        find "$CACHE/images" -maxdepth 1 -name "$name-*.sif*" ! -path "${SIF[$name]}" -delete
    done
fi

# ---------------------------------------------------------------------------------------------------
# 4. What each image is, and its own %test.
for name in "${IMAGES[@]}"; do
    apptainer inspect --labels "${SIF[$name]}" | sed "s/^/  $name: /" >&2 || die "apptainer inspect $name"
    if ! apptainer test -u "${SIF[$name]}" >"$WORK/test-$name.log" 2>&1; then
        cat "$WORK/test-$name.log" >&2
        die "%test of $name"
    fi
    grep -v -e '^INFO:' -e '^I0000' -e 'absl::InitializeLog' -e 'To enable the following' "$WORK/test-$name.log" |
        sed "s/^/  $name %test: /" >&2 || true
done

# ---------------------------------------------------------------------------------------------------
# 5. The pipeline in the containers, checked against a local run (tests/containers).
CONFIG=$WORK/containers-ci.yaml
cat >"$CONFIG" <<EOF
# Written by .ci/containers.sh: the training images it built. analysis stays null (host).
containers:
  torch: ${SIF[torch-cpu]}
  tensorflow: ${SIF[tensorflow-cpu]}
EOF
export TALE_OF_TWO_CONTAINERS_CONFIG=$CONFIG
# -u: user-namespace mode (root here lacks CAP_SYS_RESOURCE, which setuid mode asks for);
# --bind: the training rule runs the repository's workflow/scripts/train.py by its absolute path.
export TALE_OF_TWO_APPTAINER_ARGS="-u --bind $REPO"
say "tests/containers with $CONFIG, apptainer args '$TALE_OF_TWO_APPTAINER_ARGS'"
.venv/bin/python -m pytest tests/containers -n 0 -v -p no:cacheprovider -rs --no-skips ||
    die "tests/containers (exit $?)"

# No squashfuse mount of ours may outlive the run.
if grep -q "$CACHE/images" /proc/self/mountinfo; then
    grep "$CACHE/images" /proc/self/mountinfo >&2
    die "an image mount outlived the run"
fi
