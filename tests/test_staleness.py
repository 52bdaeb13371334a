"""Only stale outputs are recomputed: the job list of `snakemake -n` after each edit of a copy."""

from conftest import job, planned_jobs, planned_rules, read_config, snakemake, write_config

PROMPTS = ["012", "2024", "31415926", "the-cat"]
WEIGHTS = ["seed", "identity", "seed-causal", "random", "two-heads"]


def downstream(prompts, weights, stages=("project", "attend", "render")):
    return {job(stage, weights=w, prompt=p) for stage in stages for w in weights for p in prompts}


def test_defaults_are_what_these_tests_assume(built_copy):
    cfg = read_config(built_copy)
    assert [p if isinstance(p, str) else p["id"] for p in cfg["prompts"]] == PROMPTS
    assert list(cfg["weights"]) == WEIGHTS


def test_nothing_changed_nothing_to_do(built_copy):
    assert planned_jobs(built_copy) == set()


def weights_job(*names):
    return {job("weights", weights=w) for w in names}


def test_added_prompt_runs_only_its_jobs(built_copy):
    cfg = read_config(built_copy)
    cfg["prompts"].append("9876")
    write_config(built_copy, cfg)
    assert planned_jobs(built_copy) == {job("embed", prompt="9876")} | downstream(["9876"], WEIGHTS)
    snakemake(built_copy, "numeric", "--cores", "2", check=True)  # its stage files (and the summary) made:
    assert planned_jobs(built_copy) == downstream(["9876"], WEIGHTS, stages=("render",))  # its videos are all left


def test_edited_weight_setting_runs_only_that_setting(built_copy):
    cfg = read_config(built_copy)
    cfg["weights"]["seed"]["shared"][0][0] = 3
    write_config(built_copy, cfg)
    assert planned_jobs(built_copy) == weights_job("seed") | downstream(PROMPTS, ["seed"])


def test_edited_vocab_entry_runs_only_prompts_with_that_token(built_copy):
    cfg = read_config(built_copy)
    cfg["vocab"]["3"] = [2, 2, 1]  # only "31415926" holds a 3
    write_config(built_copy, cfg)
    assert planned_jobs(built_copy) == {job("embed", prompt="31415926")} | downstream(["31415926"], WEIGHTS)


def test_edited_attention_option_runs_only_attend_of_that_setting(built_copy):
    cfg = read_config(built_copy)
    cfg["weights"]["seed-causal"]["attention"]["causal"] = False
    write_config(built_copy, cfg)
    assert planned_jobs(built_copy) == downstream(PROMPTS, ["seed-causal"], stages=("attend", "render"))


def test_reordered_mapping_keys_rerun_nothing(built_copy):
    # what yaml.safe_dump or a config editor does: same meaning, keys in another order
    cfg = read_config(built_copy)
    cfg["unknown_tokens"] = {"dim": 3, "seed": 0}
    cfg["weights"]["two-heads"]["query"] = {"random": {"shape": [3, 4], "seed": 11}}
    cfg["weights"]["seed-causal"]["attention"] = {"softmax": True, "causal": True, "scale": "1/sqrt(d_head)"}
    write_config(built_copy, cfg)
    assert planned_jobs(built_copy) == set()


def test_equal_numbers_in_other_forms_rerun_nothing(built_copy):
    # 2, 2.0, 2e0 and 2E0 are one number; YAML 1.1 alone would read `2e0` as a string
    path = built_copy / "config/config.yaml"
    text = path.read_text()
    assert text.count("shared: [[2, 1, 1], [4, -6, 0], [-2, 7, 2]]") == 2
    path.write_text(text.replace("shared: [[2, 1, 1], [4, -6, 0], [-2, 7, 2]]",
                                 "shared: [[2e0, 1.0, 1], [4E0, -6, 0e0], [-2, 7.0, 2]]")
                    .replace("{random: {seed: 11, shape: [3, 4]}}", "{random: {seed: 11.0, shape: [3.0, 4]}}"))
    assert planned_jobs(built_copy) == set()


def test_scientific_notation_is_a_number(built_copy):
    path = built_copy / "config/config.yaml"
    text = path.read_text()
    path.write_text(text.replace("query: {random: {seed: 1}}", "query: {random: {seed: 1, std: 1e-2}}"))
    assert planned_jobs(built_copy) == weights_job("random") | downstream(PROMPTS, ["random"])


def test_reordered_prompts_and_weights_rerun_only_summary_and_gallery(built_copy):
    cfg = read_config(built_copy)
    cfg["prompts"].reverse()
    cfg["weights"] = dict(reversed(cfg["weights"].items()))
    write_config(built_copy, cfg)
    assert planned_rules(built_copy) == ["gallery", "summary"]


def test_swapped_param_values_are_seen(built_copy):
    # Snakemake keeps params as a sorted list of reprs; one dict per rule keeps names with values.
    cfg = read_config(built_copy)
    cfg["weights"]["seed-causal"]["attention"] = {"scale": "1/sqrt(d_head)", "causal": False, "softmax": True}
    write_config(built_copy, cfg)
    # the stage files only: the renders below attend rerun whenever attend does, whether their videos are fresh or not
    snakemake(built_copy, "numeric", "--cores", "2", check=True)
    cfg["weights"]["seed-causal"]["attention"] = {"scale": "1/sqrt(d_head)", "causal": True, "softmax": False}
    write_config(built_copy, cfg)
    assert planned_jobs(built_copy) == downstream(PROMPTS, ["seed-causal"], stages=("attend", "render"))


def edit_module(workdir, module, text):
    path = workdir / "src/attnpipe" / module
    path.write_text(path.read_text() + text)


def test_edited_attention_code_reruns_attend_only(built_copy):
    edit_module(built_copy, "numeric/attention.py", "\nEDITED = True\n")
    assert planned_jobs(built_copy) == downstream(PROMPTS, WEIGHTS, stages=("attend", "render"))


def test_edited_matrix_code_reruns_weights_and_below(built_copy):
    edit_module(built_copy, "numeric/matrices.py", "\nEDITED = True\n")
    assert planned_jobs(built_copy) == weights_job(*WEIGHTS) | downstream(PROMPTS, WEIGHTS)


def test_edited_embedding_code_reruns_everything_below_it(built_copy):
    edit_module(built_copy, "numeric/embedding.py", "\nEDITED = True\n")
    expected = {job("embed", prompt=p) for p in PROMPTS} | downstream(PROMPTS, WEIGHTS)
    assert planned_jobs(built_copy) == expected


def test_comment_only_edit_changes_nothing(built_copy):
    edit_module(built_copy, "numeric/attention.py", "\n# a comment changes no computation\n")
    assert planned_jobs(built_copy) == set()


def test_deleted_stage_file_is_rebuilt_with_what_depends_on_it(built_copy):
    (built_copy / "results/seed/012/queries.csv").unlink()
    assert planned_jobs(built_copy) == {job(s, weights="seed", prompt="012") for s in ("project", "attend", "render")}
