"""Real models inside the sweep: local Hugging Face folders named under `models:`, one weight setting per
(model, layer). spec reads and checks the folders at config load (config.json only, no torch, no
transformers); hf runs them (transformers, offline) for the stages forward, layer_input, model_weights
and rotate; token_labels labels each token with its text as people read it."""
