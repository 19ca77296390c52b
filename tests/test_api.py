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
