"""One module per framework; the module name is the framework's name in the config.

The contract each module fulfils is described in `tale_of_two.fit.harness`.
"""
