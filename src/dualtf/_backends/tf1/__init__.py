"""Running TF1 code as written, in every mode: one floor below the modes, above TensorFlow.

What a step's ``fn`` needs so that a TF1 program's graph-building code runs unchanged in
graph, eager, function and xla mode, each idea in one module:

- ``registry``: every TensorFlow name dualtf replaces at run time (target, replacement,
  held while, why), held only while a step's ``fn`` runs in the thread that runs it;
- ``installed``: the one install mechanism (counted across threads, put back by the last user);
- ``context``: which step's ``fn`` the current thread is running, the question every
  replacement asks before doing anything but TensorFlow's own thing;
- ``code``: how every mode runs ``fn`` — one list of wrappers (the registry held, TF1's
  build-once, deterministic random keys, eager's TF1 context and gradient tape);
- ``build_once``, ``calls``, ``layers``, ``gradients``, ``random``: the features;
- ``served``: graph mode's Keras loop, whose eager reads and assigns of graph variables the Session serves;
- ``refuse``: the one helper that refuses a built step's ops against a table.
"""
