"""Links that carry the Train page's settings: a TrainConfig to query parameters and back."""

import random
from urllib.parse import parse_qsl

import pytest

from mnist_core import config as cfg
from mnist_core import i18n
from mnist_core.classroom.links import FIELDS, from_params, share_query, to_params
from mnist_core.config import PRESETS, ConfigError, TrainConfig, validate

FULL, OFFLINE = 60_000, 5_000  # training digits of the full MNIST, and of the offline sample
CODELAB = PRESETS["codelab"].fit_to(FULL)
# The settings the Train page offers as a list of choices: a grid of numbers, or words.
CHOICES = {
    "strides": cfg.STRIDES,
    "dense_units": cfg.DENSE,
    "learning_rate": cfg.RATES,
    "batch_size": cfg.BATCHES,
    "padding": cfg.PADDINGS,
    "pooling": cfg.POOLINGS,
    "activation": cfg.ACTIVATIONS,
    "optimizer": cfg.OPTIMIZERS,
    "lr_schedule": cfg.LR_SCHEDULES,
}


def _random_config(rng: random.Random, available: int) -> TrainConfig:
    """A config the Train page's widgets can show, every field drawn at random."""
    blocks = rng.randint(0, cfg.MAX_BLOCKS)
    values = {
        "filters": tuple(rng.choice(cfg.FILTERS) for _ in range(blocks)),
        "kernel_sizes": tuple(rng.choice(cfg.KERNELS) for _ in range(blocks)),
        "batch_norm": rng.random() < 0.5,
    }
    values |= {name: rng.choice(choices) for name, choices in CHOICES.items()}
    for name, span in {**cfg.SPANS, **cfg.size_spans(available)}.items():
        if isinstance(span.low, int):
            values[name] = rng.randint(span.low, span.high)
        else:  # anywhere in the range, between the steps too, as the presets' 0.08
            values[name] = rng.uniform(span.low, span.high)
    values["train_size"] = min(values["train_size"], available - values["val_size"])
    return TrainConfig(**values)


def _on_the_widgets(config: TrainConfig, available: int) -> None:
    """Assert every value is one the Train page's widgets can show."""
    assert 0 <= config.conv_blocks <= cfg.MAX_BLOCKS
    assert len(config.kernel_sizes) == config.conv_blocks
    assert set(config.filters) <= set(cfg.FILTERS)
    assert set(config.kernel_sizes) <= set(cfg.KERNELS)
    for name, choices in CHOICES.items():
        assert getattr(config, name) in choices, name
    for name, span in {**cfg.SPANS, **cfg.size_spans(available)}.items():
        value = getattr(config, name)
        assert span.low <= value <= span.high, name
        assert isinstance(value, int) == isinstance(span.low, int), name
    assert config.train_size + config.val_size <= available


@pytest.mark.parametrize("available", [FULL, OFFLINE])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_survives_the_round_trip(preset, available):
    config = PRESETS[preset].fit_to(available)
    assert from_params(to_params(config), available) == (config, [])


def test_random_configs_survive_the_round_trip_exactly():
    rng = random.Random(10)
    for _ in range(300):
        available = rng.choice([FULL, OFFLINE])
        config = _random_config(rng, available)
        assert from_params(to_params(config), available) == (config, []), config


def test_the_issues_example_link_gives_its_values_and_the_codelab_for_the_rest():
    link = dict(
        parse_qsl("filters=16,32&kernel_sizes=5,5&batch_norm=false&epochs=3&batch_size=128")
    )
    config, problems = from_params(link, FULL)
    assert problems == []
    assert config == CODELAB.replace(filters=(16, 32), epochs=3, batch_size=128)
    assert config != CODELAB


def test_every_kind_of_field_is_written_as_the_issue_says():
    params = to_params(PRESETS["best"])
    assert list(params) == list(FIELDS)
    assert params["filters"] == "32,64,128"  # tuples comma-separated
    assert params["batch_norm"] == "true" and to_params(CODELAB)["batch_norm"] == "false"
    assert params["padding"] == "same" and params["lr_schedule"] == "one-cycle"
    assert params["epochs"] == "13" and params["learning_rate"] == "0.003"
    assert params["shift"] == "0.1" and params["rotation"] == "0" and params["zoom"] == "0"


def test_a_link_with_nothing_gives_the_codelab_preset_fitted_to_the_data():
    assert from_params({}, FULL) == (CODELAB, [])
    offline, problems = from_params({"epochs": "4"}, OFFLINE)
    assert problems == [] and offline == PRESETS["codelab"].fit_to(OFFLINE).replace(epochs=4)
    assert offline.train_size + offline.val_size <= OFFLINE


def test_empty_filters_mean_no_conv_block_as_the_dense_presets_link_says():
    params = to_params(PRESETS["dense"])
    assert params["filters"] == "" and params["kernel_sizes"] == ""
    config, problems = from_params({"filters": "", "dense_units": "8"}, FULL)
    assert problems == [] and config.filters == () and config.kernel_sizes == ()
    validate(config)  # a network the page can build


def test_parameters_that_are_not_settings_are_ignored():
    link = {"lang": "zh", "embed": "true", "utm_source": "mail", "Epochs": "3", "epochs": "7"}
    assert from_params(link, FULL) == (CODELAB.replace(epochs=7), [])


@pytest.mark.parametrize(
    ("field", "given", "used", "why"),
    [
        ("learning_rate", "0.002", 0.003, "not among the values offered"),  # nearest by ratio
        ("learning_rate", "5", 0.1, "not among the values offered"),
        ("filters", "33", (32,), "not among the values offered"),
        ("filters", "16,1000", (16, 128), "not among the values offered"),
        ("filters", "16,abc", (8, 16), "not a list of numbers"),
        ("kernel_sizes", "4,6", (5, 7), "not among the values offered"),  # by ratio too
        ("batch_size", "100", 128, "not among the values offered"),
        ("dense_units", "20", 16, "not among the values offered"),
        ("strides", "1,2", 1, "not a number"),
        ("epochs", "500", 50, "outside 1 to 50"),
        ("epochs", "0", 1, "outside 1 to 50"),
        ("epochs", "3.6", 4, "not a whole number"),
        ("epochs", "three", 10, "not a number"),
        ("dropout", "nan", 0.0, "not a number"),
        ("dropout", "0.9", 0.7, "outside 0 to 0.7"),
        ("rotation", "-10", 0.0, "outside 0 to 30"),
        ("seed", "inf", 0, "not a number"),
        ("val_size", "20000", 12_000, "outside 0 to 12000"),
        ("train_size", "100000", 59_000, "more than the 59000 digits left beside 1000"),
        ("train_size", "50", 100, "outside 100 to 60000"),
        ("padding", "round", "valid", "not one of valid, same"),
        ("lr_schedule", "warm", "constant", "not one of constant, cosine, one-cycle"),
        ("batch_norm", "yes", False, "neither true nor false"),
    ],
)
def test_a_bad_value_falls_back_with_a_message_naming_it_and_the_value_used(
    field, given, used, why
):
    config, problems = from_params({field: given}, FULL)
    assert getattr(config, field) == used
    assert config.replace(**{field: used}) == config  # nothing else moved
    assert len(problems) == 1 and problems[0].field == field
    message = problems[0].message
    assert message.startswith(f"{field}=`{given}` ") and why in message, message
    shown = to_params(config)[field]  # the value used, as the link now shows it
    assert message.endswith((f" {shown}.", f" {shown}, the codelab value.")), message


def test_the_fallbacks_of_a_link_are_reported_each_and_in_the_order_of_the_settings():
    link = {"padding": "round", "learning_rate": "0.002", "epochs": "500", "filters": "33"}
    config, problems = from_params(link, FULL)
    assert [p.field for p in problems] == ["filters", "padding", "learning_rate", "epochs"]
    assert (config.filters, config.padding, config.learning_rate, config.epochs) == (
        (32,),
        "valid",
        0.003,
        50,
    )
    assert config.kernel_sizes == (5,), "one kernel per block"


def test_blocks_follow_the_filters_and_take_the_widgets_spare_kernels():
    config, problems = from_params({"filters": "16,32,64"}, FULL)
    assert problems == [] and config.kernel_sizes == (5, 5, 3)
    config, problems = from_params({"kernel_sizes": "3"}, FULL)
    assert problems == [] and (config.filters, config.kernel_sizes) == ((8,), (3,))
    config, problems = from_params({"filters": "8,16,32", "kernel_sizes": "7"}, FULL)
    assert config.kernel_sizes == (7, 3, 3)
    assert [p.field for p in problems] == ["kernel_sizes"]
    assert "3 blocks: using 7,3,3." in problems[0].message
    config, problems = from_params({"filters": "2,4,8,16,32"}, FULL)
    assert config.filters == (2, 4, 8) and "more than 3 blocks" in problems[0].message


def test_an_impossible_network_is_kept_as_given_for_the_page_to_explain():
    link = {"filters": "8,16,32", "kernel_sizes": "7,7,7", "padding": "valid"}
    config, problems = from_params(link, FULL)
    assert problems == [] and config.kernel_sizes == (7, 7, 7)
    with pytest.raises(ConfigError, match="Block 3"):
        validate(config, FULL)


def test_a_value_is_quoted_short_and_as_plain_text():
    config, problems = from_params({"activation": "x" * 500}, FULL)
    assert config.activation == "relu" and len(problems[0].message) < 200
    _config, problems = from_params({"padding": "[win](http://x.example/)<b>:red[!]"}, FULL)
    message = problems[0].message  # shown as Markdown: no link, tag or colour may survive
    quoted = message.removesuffix(" is not one of valid, same: using valid, the codelab value.")
    assert quoted.startswith("padding=`?win?") and not set("[]()<>:!/") & set(quoted), message
    # Even plain text can be a link in Markdown (www.…): a code span shows it as text.
    _config, problems = from_params({"padding": "www.evil-site.example"}, FULL)
    assert problems[0].message.startswith("padding=`www.evil-site.example` is not one of")


def test_a_message_is_in_the_language_of_whoever_reads_it():
    _config, problems = from_params({"epochs": "500"}, FULL)
    assert problems[0].message == "epochs=`500` is outside 1 to 50: using 50."
    previous = i18n.set_language_source(lambda: "zh")
    try:
        assert problems[0].message == "epochs=`500` 超出了 1 到 50 的范围：改用 50。"
    finally:
        i18n.set_language_source(previous)


def test_any_link_gives_settings_the_widgets_can_show():
    rng = random.Random(3)
    junk = [
        "",
        "-1",
        "0",
        "1e9",
        "nan",
        "abc",
        "1,2,3,4",
        "0.5",
        "true",
        "7,7",
        " 16 ",
        "%20",
        "5e-324",
        "1e-323,2",
    ]
    for _ in range(300):
        available = rng.choice([FULL, OFFLINE])
        link = {name: rng.choice(junk) for name in FIELDS if rng.random() < 0.5}
        config, _problems = from_params(link, available)
        _on_the_widgets(config, available)


def test_a_shared_link_carries_the_settings_and_the_language_only():
    config = CODELAB.replace(filters=(16, 32))
    query = share_query(config, "zh")
    assert "filters=16,32&" in query  # commas left readable
    assert dict(parse_qsl(query)) == {**to_params(config), "lang": "zh"}
    assert "lang" not in dict(parse_qsl(share_query(config)))
