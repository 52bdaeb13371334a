"""The config: read strictly, checked before any job runs, resolved into a Sweep.

  configfile   the YAML files, read strictly (UTF-8, no duplicate keys, bounded size)
  schema       structure checks against workflow/schemas/config.schema.yaml, one-line messages
  sweep        the numbers checked and the Sweep built: prompts, weight settings, models, and the config
               slice each rule depends on (its params)
"""
