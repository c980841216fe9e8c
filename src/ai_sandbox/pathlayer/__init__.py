"""The path layer: every file the sandbox touches is beneath one root, checked and race-free.

Its public face is :mod:`ai_sandbox.security`; the modules here are private, one job each:

* ``errors``: the refusals (one rule name each) and the mapping of ``OSError``;
* ``names``: lexical checks on a path string and the deny patterns;
* ``openat2``: ``openat2(2)`` through ctypes, resolution the kernel keeps beneath a directory fd;
* ``walk``: the component-by-component ``O_NOFOLLOW`` walk where openat2 is missing;
* ``io``: type checks, the capped read and the atomic write on an entry already located;
* ``safefs``: :class:`SafeFS` and :func:`safe_path_access`, which put the above together.
"""
