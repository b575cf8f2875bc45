"""The bundled ``sample`` dataset: synthetic math/diagram VQA drawn with PIL.

``rows`` builds the rows (its docstring describes them); ``canvas`` is the drawing surface
that records ground truth; ``geometry``, ``charts`` and ``shapes`` draw one category each;
``choices`` makes the multiple-choice options."""
