"""Where samples come from: ``sources`` (HF datasets, files, folders, built-in datasets),
``presets`` (field maps recognised by schema) and the built-in generated datasets
(``sample``; CueWorld lives in :mod:`cuekit.cueworld`)."""
