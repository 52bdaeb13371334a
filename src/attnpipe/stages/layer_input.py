"""Rule `layer_input`: a model's forward pass -> one layer's attention input as the combination's X.

The layer is found by its block label in forward.pt ("layer<l>": the forward holds only the layers the sweep
asks for). Written as the combination's own embed.pt / hidden_states.csv (results/<setting>/<prompt>/), so
the project, attend, render and summary stages read a model's X as they read a toy prompt's.
"""

from ..stagefiles import read_stage, record, write_log, write_stage


def run(settings: dict, inputs: dict, outputs: dict, log: str) -> None:
    inputs_of_layers = read_stage(inputs["forward"])["attention_inputs"]
    label = f"layer{settings['layer']}"
    if label not in inputs_of_layers["block_labels"]:
        raise ValueError(f"{inputs['forward']}: no attention input of {label} (it holds "
                         f"{', '.join(inputs_of_layers['block_labels'])}); expected the forward of this sweep")
    x = inputs_of_layers["tensor"][inputs_of_layers["block_labels"].index(label)]
    write_stage({"hidden_states": record(x, inputs_of_layers["row_labels"], inputs_of_layers["column_labels"])},
                outputs)
    write_log(log, f"hidden_states {tuple(x.shape)}: attention input of layer {settings['layer']}")
