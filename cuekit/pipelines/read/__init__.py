"""Reading shards: ``reader`` (the streaming reader that feeds distill, with exact resume)
and ``hf_webdataset`` (loading shards with Hugging Face ``datasets``)."""
