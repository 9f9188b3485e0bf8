"""Code that runs inside a sandbox: the zygote, the isolation steps, and the Python bootstrap.

Standard library only, and nothing from the rest of gureum: the zygote loads this package on
its own (see ``gureum.sandbox.zygote_client``), before the sandbox's root replaces the host's.
Modules here import each other relatively.
"""
