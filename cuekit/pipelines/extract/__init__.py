"""`cuekit extract`: source rows -> samples -> phrases -> detections -> cue records.

``run`` drives the stage; ``prepare`` and ``images`` turn rows into stored samples,
``cue_stage`` detects and renders, ``parts`` resumes and merges, ``layout`` names the
files of the output folder (which ``shard`` and ``evaluate`` read)."""
