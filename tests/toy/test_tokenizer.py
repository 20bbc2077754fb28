"""The caption tokenizer: built in code, saved as tokenizer.json, loaded with AutoTokenizer."""

from transformers import AutoTokenizer

from mmcache.pipelines.toy.captions import all_specs, vocabulary_words
from mmcache.pipelines.toy.configs import EOS_ID, PAD_ID, UNK_ID, build_tokenizer


def test_round_trip_through_disk(tmp_path):
    build_tokenizer().save_pretrained(str(tmp_path))
    assert (tmp_path / "tokenizer.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path))
    for spec in all_specs()[::7]:
        ids = tokenizer(spec.text).input_ids
        assert ids[-1] == EOS_ID and UNK_ID not in ids
        assert tokenizer.decode(ids, skip_special_tokens=True) == spec.text


def test_pipeline_style_padding_and_normalisation():
    tokenizer = build_tokenizer()
    batch = tokenizer(["A RED circle, moving left!", ""], padding="max_length", max_length=12, truncation=True,
                      return_attention_mask=True)
    assert batch.input_ids[0][:6] == tokenizer("a red circle moving left").input_ids
    assert batch.input_ids[1] == [EOS_ID] + [PAD_ID] * 11
    assert sum(batch.attention_mask[0]) == 6
    assert tokenizer("a dragon").input_ids == [tokenizer.convert_tokens_to_ids("a"), UNK_ID, EOS_ID]
    assert len(tokenizer) == 3 + len(vocabulary_words())
