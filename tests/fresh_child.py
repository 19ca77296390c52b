"""The fresh process of :mod:`tests.fresh_process`: run by ``runpy.run_path`` with ``JOB`` set.

Its output goes to the job's files (file descriptors 1 and 2, so TensorFlow's C++ logging too);
it runs the job's script as ``__main__`` or pytest, and exits with their status. Imported any
other way (pytest's doctest collection), it does nothing.
"""

import os
import sys


def main(job):
    os.environ.clear()
    os.environ.update(job["env"])
    for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    os.chdir(job["cwd"])
    argv = job["argv"]
    code = 0
    try:
        if argv[:2] == ["-m", "pytest"]:
            import pytest

            sys.argv = ["pytest", *argv[2:]]
            code = int(pytest.main(argv[2:]))
        else:
            import runpy

            sys.argv = list(argv)
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if "JOB" in globals():
    main(JOB)  # noqa: F821 - given by runpy.run_path's init_globals
