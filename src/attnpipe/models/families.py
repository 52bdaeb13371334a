"""The model families attnpipe reads, each described once: which config.json model_types belong to it, what its
config.json calls its sizes, where its attention sits in transformers' base model, and what that attention does
(rotary positions, a causal mask, Q/K/V in three linear layers or one fused Conv1D). models.spec checks a folder by
it; models.stream finds a layer's attention and its Q, K and V by it. A new family is an entry here (and, where
its attention adds a step, that step's stage)."""

from dataclasses import dataclass, field

# config.json's names for the sizes, as most families (and transformers' PretrainedConfig) spell them
SIZE_KEYS = {"layers": "num_hidden_layers", "heads": "num_attention_heads", "hidden": "hidden_size",
             "positions": "max_position_embeddings"}


@dataclass(frozen=True)
class Family:
    name: str
    positions: dict[str, int]  # model_type -> transformers' position limit where config.json leaves it out
    attention: str  # layer {}'s attention module in the base model: its pre-hook sees what attention reads
    projections: tuple[str, str, str] | None  # its Q, K, V nn.Linear children; None: one fused Conv1D, c_attn
    rope: bool  # rotary position embedding: a `rotate` stage between project and attend
    causal: bool
    size_keys: dict = field(default_factory=lambda: dict(SIZE_KEYS))
    size_defaults: dict = field(default_factory=dict)  # where config.json may leave a size out

    @property
    def model_types(self) -> tuple[str, ...]:
        return tuple(self.positions)


FAMILIES = {family.name: family for family in (
    Family("bert", {"bert": 512}, "encoder.layer.{}.attention.self", ("query", "key", "value"), rope=False,
           causal=False),
    Family("gpt2", {"gpt2": 1024}, "h.{}.attn", None, rope=False, causal=True,  # GPT2Config's names and defaults
           size_keys={"layers": "n_layer", "heads": "n_head", "hidden": "n_embd", "positions": "n_positions"},
           size_defaults={"layers": 12, "heads": 12, "hidden": 768}),
    Family("llama", {"llama": 2048, "mistral": 4096 * 32, "qwen2": 32768}, "layers.{}.self_attn",
           ("q_proj", "k_proj", "v_proj"), rope=True, causal=True),
)}
BY_MODEL_TYPE = {model_type: family for family in FAMILIES.values() for model_type in family.model_types}
SUPPORTED = "bert (BERT family, e.g. MiniLM), gpt2, llama, mistral, qwen2"
