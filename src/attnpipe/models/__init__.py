"""Real models inside the sweep: local Hugging Face folders named under `models:`, one weight setting per (model,
layer). spec reads and checks the folders at config load (config.json and the weights' headers; torch and
transformers only for a folder not seen before, through complete); hf runs them (transformers, offline) for the
stages forward, layer_input, model_weights and rotate. complete asks transformers (on the meta device, at config
load, remembered) whether a folder holds every tensor its model reads; identity hashes the folder's files once each,
for the rules' params."""
