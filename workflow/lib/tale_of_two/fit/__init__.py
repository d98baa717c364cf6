"""What fits: the code that runs inside the official framework images and on the article's own Python 3.8.

numpy, one framework and the standard library only (no pandas, scipy or matplotlib), and no Python 3.9+
syntax or standard library: ruff checks this folder at target py38. The framework contract is in
`tale_of_two.fit.harness`.
"""
