"""Real models inside the sweep: local Hugging Face folders named under `models:` (or fetched from the hub), one
weight setting per (model, layer).

  families      each family described once: its model_types, config.json's size keys, where its attention
                is and what it does (rotary, causal, fused Q/K/V)
  spec          reads and checks the folders at config load (config.json and the weights' headers; torch and
                transformers only for a folder not seen before, through complete)
  complete      asks transformers (on the meta device, at config load, remembered) whether a folder holds every
                tensor its model reads
  identity      hashes the folder's files once each, for the rules' params
  hub           a hub model: its revision resolved, its small files fetched at config load, its weights by a job
  hf            runs a model (transformers, offline) for the stages forward and model_weights, a layer at a time
  stream        the streamed forward: transformers' own model on the meta device, weights read as modules run
  weightfiles   which file holds each tensor (safetensors headers, shard index, .bin), read without torch
  token_labels  each token labelled with its text as people read it
"""
