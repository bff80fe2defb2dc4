"""The long-context setting of a library: recorded in the manifest, rebuilt on open, a different
setting is an error; ``--chunker none`` indexes each document whole (tiny random BERT model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import lcmem
from lcmem.chunkers import get_chunker
from lcmem.embedders.longctx import LongContextEmbedder, make_embedder
from lcmem.errors import ConfigError, EmbedderMismatchError
from lcmem.tokens import WhitespaceTokenizer, default_model_path
from tests.extras import needs

needs("torch", "transformers", extra="longctx")
import torch  # noqa: E402
import transformers  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    folder = tmp_path_factory.mktemp("bert")
    transformers.BertModel(cfg).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(default_model_path() / name, folder / name)
    return folder


@pytest.fixture()
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.txt").write_text(" ".join(f"filler{i}" for i in range(300)) + " zebra cake")
    (folder / "short.txt").write_text("a note about apples")
    return folder


def test_whole_chunker_keeps_a_document_as_one_exact_chunk():
    text = "\n  first line\nsecond line  \n"
    (chunk,) = get_chunker("none", tokenizer=WhitespaceTokenizer()).chunk(text)
    assert text[chunk.start : chunk.end] == chunk.text == "first line\nsecond line"
    assert get_chunker("none", tokenizer=WhitespaceTokenizer()).chunk(" \n ") == []


def test_make_embedder_parses_settings(model_dir):
    emb = make_embedder(model_dir, strategy="rp+s", max_tokens=1024)
    assert isinstance(emb, LongContextEmbedder) and emb.logit_scaling
    assert emb.strategy == "rp" and emb.max_tokens == 1024
    assert make_embedder(model_dir, max_tokens=512).strategy == "pcw"
    with pytest.raises(ConfigError):
        make_embedder(model_dir, strategy="pi+x")
    with pytest.raises(ConfigError):
        make_embedder(model_dir, strategy="sea-median")


def test_library_records_and_checks_the_setting(tmp_path, model_dir, docs):
    store = tmp_path / "lib"
    emb = make_embedder(model_dir, strategy="gp", max_tokens=1024)
    with lcmem.open(store, embedder=emb, chunker="none") as lib:
        report = lib.index([docs])
        assert report.ok
        assert report.chunks_added == 2
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["embedder"]["strategy"] == "gp"
    assert manifest["embedder"]["max_tokens"] == 1024
    assert manifest["chunker"]["name"] == "none"
    # reopened without a setting: the same long-context embedder is rebuilt
    with lcmem.open(store) as lib:
        assert isinstance(lib.embedder, LongContextEmbedder)
        assert lib.embedder.name == emb.name
        hits = lib.search("zebra cake", k=2, mode="dense")
        assert {Path(h.chunk.doc_path).name for h in hits} == {"long.txt", "short.txt"}
        long_hit = next(h for h in hits if h.chunk.doc_path.endswith("long.txt"))
        assert long_hit.chunk.text.endswith("zebra cake")  # the whole document is one chunk
    # another setting is a clear error
    with pytest.raises(EmbedderMismatchError, match="gp@1024"):
        lcmem.open(store, embedder=make_embedder(model_dir, strategy="pi", max_tokens=1024))


def test_cli_index_options(tmp_path, model_dir, docs):
    from lcmem.cli import cli

    store = str(tmp_path / "cli-lib")
    runner = CliRunner()
    args = ["index", str(docs), "--store", store, "--embedder", str(model_dir), "--quiet"]
    ok = runner.invoke(
        cli, [*args, "--embed-max-tokens", "2048", "--embed-strategy", "pi+s", "--chunker", "none"]
    )
    assert ok.exit_code == 0, ok.output
    manifest = json.loads((Path(store) / "manifest.json").read_text())
    assert manifest["embedder"]["strategy"] == "pi+s"
    bad = runner.invoke(cli, [*args, "--embed-max-tokens", "2048", "--embed-strategy", "rp"])
    assert bad.exit_code != 0  # lcmem.cli.main prints the message and exits 4
    assert isinstance(bad.exception, EmbedderMismatchError)
    assert "built with embedder" in str(bad.exception)


def test_native_window_is_recorded_and_old_libraries_keep_the_table(tmp_path, model_dir, docs):
    tuned = tmp_path / "tuned"
    shutil.copytree(model_dir, tuned)
    (tuned / "sentence_bert_config.json").write_text('{"max_seq_length": 32}')
    emb = make_embedder(tuned, strategy="pcw", max_tokens=256)
    assert emb.native_tokens == 32  # the tuned window, not the 64-position table
    assert make_embedder(tuned, strategy="pcw", native_tokens="table").native_tokens == 64
    store = tmp_path / "lib"
    with lcmem.open(store, embedder=emb, chunker="none") as lib:
        assert lib.index([docs]).ok
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["embedder"]["native_tokens"] == 32
    with lcmem.open(store) as lib:
        assert lib.embedder.native_tokens == 32
    # a manifest written before the window was recorded: the library was built with the table
    with lcmem.open(store) as lib:
        del lib.manifest["embedder"]["native_tokens"]
        lib.store.set_meta("manifest", lib.manifest)
    with lcmem.open(store) as lib:
        assert lib.embedder.native_tokens == 64


def test_max_tokens_counts_the_texts_own_tokens(model_dir):
    """--embed-max-tokens N reads a text of exactly N wordpieces whole (special tokens aside)."""
    emb = make_embedder(model_dir, strategy="pi", max_tokens=128)
    n = len(emb.tokenizer("word " * 128, add_special_tokens=False)["input_ids"])
    assert n == 128
    (ids,) = emb.encode_ids(["word " * 128])
    assert len(ids) == 130 and ids.count(emb.tokenizer.convert_tokens_to_ids("word")) == 128
    assert emb.lost_tokens(["word " * 128, "word " * 131]) == [0, 3]
    truncating = make_embedder(model_dir, strategy="truncate", max_tokens=4096)
    assert truncating.max_tokens == 62  # 64 positions, minus [CLS] and [SEP]
    assert truncating.lost_tokens(["word " * 70]) == [8]


def test_truncated_text_is_reported_and_warned_once(tmp_path, model_dir, docs, caplog):
    (docs / "other.txt").write_text(" ".join(f"more{i}" for i in range(200)))
    emb = make_embedder(model_dir, strategy="truncate")
    with (
        lcmem.open(tmp_path / "lib", embedder=emb, chunker="none") as lib,
        caplog.at_level("WARNING", logger="lcmem.library"),
    ):
        report = lib.index([docs])
    lost = dict((Path(p).name, n) for p, n in report.truncated)
    tok = emb.tokenizer
    for name in ("long.txt", "other.txt"):
        n = len(tok((docs / name).read_text(), add_special_tokens=False)["input_ids"])
        assert lost[name] == n - 62
    assert "short.txt" not in lost
    warned = [r for r in caplog.records if "not embedded" in r.getMessage()]
    assert len(warned) == 1 and "2 document(s)" in warned[0].getMessage()
    out = report.to_dict()["truncated"]
    assert out["documents"] == 2 and out["tokens"] == sum(lost.values())
