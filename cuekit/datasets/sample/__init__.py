"""The bundled ``sample`` dataset (``rows``): synthetic math/diagram VQA drawn with PIL."""
