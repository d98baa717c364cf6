"""PyTorch: the article's loop from scratch and its loop with built-in layers."""

from __future__ import annotations

import os

import torch
from torch import nn, optim

from tale_of_two.fit import workloads
from tale_of_two.fit.frameworks._loop import ArticleLoop
from tale_of_two.fit.harness import DeviceUnavailable, MiniBatches, Runtime, Settings

VERSION = torch.__version__


def configure(device: str, threads: int, deterministic: bool = True) -> Runtime:
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            "device 'cuda' requested but torch sees no CUDA GPU (torch.cuda.is_available() is False)"
        )
    torch.set_num_threads(threads)
    notes = []
    if hasattr(torch, "use_deterministic_algorithms"):
        torch.use_deterministic_algorithms(deterministic)
    else:  # torch < 1.8, the article's 2020 era
        torch.set_deterministic(deterministic)
        notes.append(
            f"torch < 1.8 has no torch.use_deterministic_algorithms: used torch.set_deterministic({deterministic})"
        )
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        if deterministic:  # else deterministic mode refuses cuBLAS (nn.Linear) on CUDA >= 10.2; read at first use
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        name, synchronize = torch.cuda.get_device_name(0), torch.cuda.synchronize
        return Runtime(
            torch.device("cuda"),
            "cuda",
            name,
            torch.get_num_threads(),
            torch.manual_seed,
            synchronize,
            notes=notes,
            device_peak_bytes=torch.cuda.max_memory_allocated,  # the caching allocator's peak of live tensors
        )
    return Runtime(torch.device("cpu"), "cpu", "cpu", torch.get_num_threads(), torch.manual_seed, notes=notes)


def compiler_unavailable(error: BaseException) -> bool:
    """torch.compile cannot run here: this torch has none, or Inductor finds no working C++ compiler."""
    if isinstance(error, AttributeError) and not hasattr(torch, "compile"):  # torch < 2.0
        return True
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor.exc import CppCompileError, InvalidCxxCompiler

    return isinstance(error, BackendCompilerFailed) and isinstance(
        error.inner_exception, (InvalidCxxCompiler, CppCompileError)
    )


def batches(x, y, settings: Settings, device: torch.device) -> MiniBatches:
    return MiniBatches.of(x, y, settings, lambda array: torch.tensor(array, device=device))


# --- scratch: explicit Parameters, hand-written MSE, naive gradient descent ----------------------


class LinearRegression(nn.Module):  # api: model
    def __init__(self, w0: torch.Tensor, b0: torch.Tensor):
        super().__init__()
        # nn.Parameter registers w and b with the module, so they appear in parameters().
        self.w = nn.Parameter(w0)  # api: parameters
        self.b = nn.Parameter(b0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # api: article: the article's w was a (1, 1) Parameter used as `x @ w`; a scalar `w * x` is the same line
        return self.w * x + self.b  # api: forward


def squared_error(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.square(y_pred - y_true))  # api: loss: hand-written


class Scratch(ArticleLoop):
    LOSS = "mse"
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        init = settings.initial_parameters()
        if init is None:  # the framework's own RNG
            w0, b0 = torch.empty(2).uniform_(settings.init_low, settings.init_high)
        else:
            w0, b0 = torch.tensor(init)
        self.model = LinearRegression(w0.clone(), b0.clone()).to(runtime.device)
        self.lr = settings.lr

    def parameters(self) -> tuple[float, float]:
        return self.model.w.item(), self.model.b.item()  # api: read

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = squared_error(self.model(x), y)
        loss.backward()  # api: gradients
        with torch.no_grad():  # the update itself must not be recorded by autograd
            for param in (self.model.w, self.model.b):
                param -= self.lr * param.grad  # api[with]: update
                param.grad.zero_()  # api: zero_grad: otherwise backward() accumulates into it
        return loss.detach()


# --- layers: nn.Linear, nn.MSELoss, optim.SGD -------------------------------------------------


class LinearModel(nn.Module):  # api: model
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)  # api: parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)  # api: forward


class Layers(ArticleLoop):
    LOSS = "mse"

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        self.model = LinearModel().to(runtime.device)
        init = settings.initial_parameters()
        if init is not None:  # otherwise nn.Linear's default (Kaiming-uniform) initialiser
            with torch.no_grad():
                self.model.linear.weight.fill_(init[0])
                self.model.linear.bias.fill_(init[1])
        self.loss_fn = nn.MSELoss()  # api: loss
        self.optimizer = optim.SGD(self.model.parameters(), lr=settings.lr)  # api: optimizer

    def parameters(self) -> tuple[float, float]:
        return self.model.linear.weight.item(), self.model.linear.bias.item()  # api: read

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad()  # api: zero_grad
        loss = self.loss_fn(self.model(x), y)
        loss.backward()  # api: gradients
        self.optimizer.step()  # api: update
        return loss.detach()


# --- the remedies of `layers`' Optimizer.step: the same SGD, its update on all parameters at once --------
# optim.SGD's default on the CPU is its for-loop over the parameters, one small op each (`foreach` is the
# default on CUDA only); foreach=True groups them into one multi-tensor op, fused=True into one fused kernel
# (torch 2.13 lists "cpu" among the fused kernels' devices, torch/utils/_foreach_utils.py). Neither keyword
# exists in the 2020 era's torch 1.7: not a `then:` run.


class LayersForeach(Layers):
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        self.optimizer = optim.SGD(self.model.parameters(), lr=settings.lr, foreach=True)  # api: optimizer


class LayersFused(Layers):
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        self.optimizer = optim.SGD(self.model.parameters(), lr=settings.lr, fused=True)  # api: optimizer


# --- compiled: the whole step (forward, gradients, update) as one graph, by torch.compile(fullgraph=True) -----
# The eager steps above cannot compile whole: Dynamo does not trace `loss.backward()` (autograd's engine runs
# outside the graph: a graph break), and torch 2.13's `optimizer.step()` breaks the graph on purpose. Here
# torch.func returns the gradients as values, which Dynamo traces, and the update is SGD's rule written out.
# fullgraph=True makes any graph break an error, never a silent fallback to eager. TorchInductor generates
# C++ on the CPU: it needs a C++ compiler.


class CompiledStep:
    """What the compiled variants share: one step compiled whole, and what Dynamo did since the variant was built."""

    COMPILED = True
    # api: zero_grad: not needed: gradients are return values, nothing accumulates

    @staticmethod
    def functional_train_step(model: nn.Module, loss_fn, lr: float, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        params = {name: param.detach() for name, param in model.named_parameters()}

        def loss_of(params):
            return loss_fn(torch.func.functional_call(model, params, (x,)), y)

        grads, loss = torch.func.grad_and_value(loss_of)(params)  # api: gradients: `torch.func`, as return values
        with torch.no_grad():
            for name, param in model.named_parameters():
                param -= lr * grads[name]  # api[with]: update: SGD's rule, inside the graph
        return loss

    def compile_train_step(self, loss_fn, lr: float, runtime: Runtime) -> None:
        self.compiled = torch.compile(self.functional_train_step, fullgraph=True)  # api: training: compiled whole
        # Inductor compiles in a pool of worker processes, one per CPU by default; held to the run's threads
        # (on 2 cores the pool's start-up cost more than it saved: measured 12.3 s against 6.7 s with 1).
        torch._inductor.config.compile_threads = runtime.threads
        self.loss_fn, self.lr = loss_fn, lr
        self.metrics_at_start = dynamo_metrics()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.compiled(self.model, self.loss_fn, self.lr, x, y)

    def compile_stats(self) -> dict:
        graphs, breaks, compiles = dynamo_metrics()
        new = [m for m in compiles if not any(m is old for old in self.metrics_at_start[2])]
        return {
            "compiler": "torch.compile(fullgraph=True): Dynamo, AOTAutograd, Inductor",
            "graphs": graphs - self.metrics_at_start[0],
            "graph_breaks": breaks - self.metrics_at_start[1],
            "recompilations": sum(1 for m in new if m.recompile_reason is not None),
            "recompile_reasons": [m.recompile_reason for m in new if m.recompile_reason is not None],
            "compile_s": sum(m.entire_frame_compile_time_s or 0.0 for m in new),
            "compile_threads": torch._inductor.config.compile_threads,
            # Inductor reads torch's global switch as it lowers; its own `deterministic` config is another switch.
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "inductor_config_deterministic": bool(torch._inductor.config.deterministic),
        }


def dynamo_metrics() -> tuple[int, int, list]:
    """(graphs compiled, graph breaks, one record per frame compiled) since the process started.

    Private on purpose: torch 2.13 has no public count of graphs, graph breaks and recompilations; these
    are the records that `torch._dynamo.explain` and TORCH_LOGS report from.
    """
    from torch._dynamo.utils import counters, get_compilation_metrics

    return counters["stats"]["unique_graphs"], sum(counters["graph_break"].values()), get_compilation_metrics()


class ScratchCompiled(CompiledStep, Scratch):
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        self.compile_train_step(squared_error, self.lr, runtime)


class LayersCompiled(CompiledStep, Layers):
    # api: optimizer: none: SGD's update written out in the compiled step
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        self.compile_train_step(self.loss_fn, settings.lr, runtime)


# --- scratch_compiled under mode="reduce-overhead": on CUDA, the step's kernels recorded once as a CUDA graph -------
# and replayed with one launch per step, which removes the per-kernel launch cost an eager step pays on a GPU. On the
# CPU there is no CUDA graph to record: the mode compiles as scratch_compiled does, and `cudagraph_skips` says so.
# A replay writes its outputs into the graph's own memory, which the next replay overwrites: each step begins a
# new replay, and the loss is copied out of it before the harness reads it back.


def cudagraph_skips() -> int:
    """Graphs Inductor compiled for CUDA graphs but ran without them, since the process started (the reason is
    logged by TORCH_LOGS=perf_hints); private, as `dynamo_metrics`."""
    from torch._dynamo.utils import counters

    return counters["inductor"]["cudagraph_skips"]


class ScratchReduceOverhead(ScratchCompiled):
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        step = self.functional_train_step
        self.compiled = torch.compile(step, fullgraph=True, mode="reduce-overhead")  # api: training: CUDA graphs
        self.skips_at_start = cudagraph_skips()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        torch.compiler.cudagraph_mark_step_begin()
        return self.compiled(self.model, self.loss_fn, self.lr, x, y).clone()

    def compile_stats(self) -> dict:
        return {
            **super().compile_stats(),
            "compiler": "torch.compile(fullgraph=True, mode='reduce-overhead'): Dynamo, AOTAutograd, Inductor, and "
            "CUDA graphs on a GPU",
            "cudagraph_skips": cudagraph_skips() - self.skips_at_start,
        }


# --- the MLP (workload `mlp`, tale_of_two.fit.workloads) -------------------------------------------------------
# The harness hands the model spec in the settings (hidden widths, activation) and one numpy draw of every
# weight (settings.initial_weights(d)): every framework starts from the same network.

ACTIVATIONS = {"tanh": (torch.tanh, nn.Tanh), "relu": (torch.relu, nn.ReLU)}


class MLP(nn.Module):  # api: model
    def __init__(self, layers: list, activation: str):
        super().__init__()
        # One Parameter per weight matrix and bias vector, registered in order by nn.ParameterList.
        params = [nn.Parameter(torch.tensor(array)) for layer in layers for array in layer]
        self.params = nn.ParameterList(params)  # api: parameters
        self.activation = ACTIVATIONS[activation][0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = list(self.params)  # a slice of the ParameterList itself would build new Parameters
        weights, biases = params[0::2], params[1::2]
        for weight, bias in zip(weights[:-1], biases[:-1]):
            x = self.activation(x @ weight + bias)  # api: forward
        return x @ weights[-1] + biases[-1]  # the output layer is linear


def mlp_start(d: int, settings: Settings) -> list:
    """The harness's shared draw; with `init: framework`, nn.Linear's own (Kaiming-uniform) draw, as (W, b) arrays."""
    init = settings.initial_weights(d)
    if init is None:
        sizes = workloads.layer_sizes(d, settings.hidden)
        linears = [nn.Linear(fan_in, fan_out) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
        init = [(lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()) for lin in linears]
    return init


class MlpScratch(ArticleLoop):
    LOSS = "mse"
    # api: optimizer: none: naive gradient descent

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        self.model = MLP(mlp_start(x.shape[1], settings), settings.activation).to(runtime.device)
        self.lr = settings.lr

    def parameters(self) -> list:
        return [param.detach().cpu().numpy() for param in self.model.params]  # api: read

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = squared_error(self.model(x), y)
        loss.backward()  # api: gradients
        with torch.no_grad():
            for param in self.model.params:
                param -= self.lr * param.grad  # api[with]: update
                param.grad.zero_()  # api: zero_grad: otherwise backward() accumulates into it
        return loss.detach()


def sequential(sizes: list, activation: str) -> nn.Sequential:  # api: model
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[activation][1]()]  # api: parameters
    return nn.Sequential(*layers[:-1])  # the output layer is linear


class MlpLayers(ArticleLoop):
    LOSS = "mse"
    # api: forward: `model(x)`

    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        self.batches = batches(x, y, settings, runtime.device)
        self.model = sequential(workloads.layer_sizes(x.shape[1], settings.hidden), settings.activation)
        init = settings.initial_weights(x.shape[1])
        if init is not None:  # otherwise nn.Linear's default (Kaiming-uniform) initialiser
            with torch.no_grad():
                for linear, (weight, bias) in zip(self.model[0::2], init):
                    linear.weight.copy_(torch.from_numpy(weight.T))  # nn.Linear keeps W as (out, in)
                    linear.bias.copy_(torch.from_numpy(bias))
        self.model.to(runtime.device)
        self.loss_fn = nn.MSELoss()  # api: loss
        self.optimizer = optim.SGD(self.model.parameters(), lr=settings.lr)  # api: optimizer

    def parameters(self) -> list:
        pairs = [(lin.weight.detach().cpu().numpy().T, lin.bias.detach().cpu().numpy()) for lin in self.model[0::2]]
        return [array for pair in pairs for array in pair]  # api: read

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad()  # api: zero_grad
        loss = self.loss_fn(self.model(x), y)
        loss.backward()  # api: gradients
        self.optimizer.step()  # api: update
        return loss.detach()


class MlpScratchCompiled(CompiledStep, MlpScratch):
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        self.compile_train_step(squared_error, self.lr, runtime)


class MlpLayersFused(MlpLayers):
    def __init__(self, x, y, settings: Settings, runtime: Runtime):
        super().__init__(x, y, settings, runtime)
        self.optimizer = optim.SGD(self.model.parameters(), lr=settings.lr, fused=True)  # api: optimizer


VARIANTS = {
    "scratch": Scratch,
    "layers": Layers,
    "layers_foreach": LayersForeach,
    "layers_fused": LayersFused,
    "scratch_compiled": ScratchCompiled,
    "layers_compiled": LayersCompiled,
    "scratch_reduce_overhead": ScratchReduceOverhead,
    "mlp_scratch": MlpScratch,
    "mlp_layers": MlpLayers,
    "mlp_scratch_compiled": MlpScratchCompiled,
    "mlp_layers_fused": MlpLayersFused,
}
# Remedies, measured in results/remedies.md: {variant: (the variant it remedies, the cause its profile shows)}.
REMEDIES = {
    "mlp_scratch_compiled": ("mlp_scratch", "the step runs eagerly: each op, and autograd's backward, from Python"),
    "mlp_layers_fused": ("mlp_layers", "as layers_fused's: `Optimizer.step`'s for-loop of one update op per parameter"),
    "layers_foreach": ("layers", "`Optimizer.step`: its Python wrapper and a for-loop of one update op per parameter"),
    "layers_fused": ("layers", "`Optimizer.step`: its Python wrapper and a for-loop of one update op per parameter"),
}
