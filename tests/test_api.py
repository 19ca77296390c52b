"""The public surface: names, typing marker, lazy TensorFlow import."""

import subprocess
import sys
from pathlib import Path

import dualtf
import dualtf.testing


def test_all_is_true():
    for module in (dualtf, dualtf.testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    assert set(dualtf.__all__) <= set(dir(dualtf))


def test_py_typed_is_shipped():
    assert (Path(dualtf.__file__).parent / "py.typed").is_file()


def test_importing_dualtf_does_not_import_tensorflow():
    code = "import sys, dualtf, dualtf.pytest_plugin; print(dualtf.MODES); assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_lazy_names_resolve(dualtf_backend):
    assert isinstance(dualtf_backend, dualtf.Backend)
    feed = dualtf_backend.feed("x", "float32", [None])
    assert isinstance(feed, dualtf.Feed)
    assert isinstance(dualtf_backend.function(lambda x: x, [feed]), dualtf.Step)
    assert dualtf_backend.mode in dualtf.available_modes()


NO_TF = "import sys; sys.modules['tensorflow'] = None  # as if TensorFlow were not installed\n"
INSTALL = "pip install 'dualtf[cpu]'"


def _without_tensorflow(code):
    return subprocess.run([sys.executable, "-c", NO_TF + code], capture_output=True, text=True, timeout=120)


def test_api_without_tensorflow_says_what_to_install():
    code = """
import dualtf
for call in (lambda: dualtf.backend("eager"), dualtf.available_modes, dualtf.available_strategies,
             lambda: dualtf.configure_virtual_cpus(2)):
    try:
        call()
    except dualtf.NotInstalledError as exc:
        print(exc)
    else:
        raise SystemExit("no error")
"""
    out = _without_tensorflow(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(INSTALL) == 4 and "Received: no module named 'tensorflow'." in out.stdout


def test_cli_without_tensorflow_exits_2_with_the_message():
    out = _without_tensorflow("from dualtf.cli import main; raise SystemExit(main(['demo']))")
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("dualtf demo: dualtf needs TensorFlow") and INSTALL in out.stderr


def test_plugin_fixtures_without_tensorflow_say_what_to_install(pytester):
    pytester.makeconftest("import sys\nsys.modules['tensorflow'] = None\n")
    pytester.makepyfile("def test_x(dualtf_backend):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--dualtf-modes", "eager")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*NotInstalledError: dualtf needs TensorFlow >= 2.16*"])
