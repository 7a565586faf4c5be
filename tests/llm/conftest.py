"""Model checkpoints written as Hugging Face directories, once per session.

``hf_checkpoint_dir``
    The bundled SmolLM2 GGUF written as a checkpoint directory
    (``config.json`` + safetensors + tokenizer files), the form every Llama
    checkpoint comes in. transformers refuses ``save_pretrained`` on a
    GGUF-loaded model, so the weights go into a fresh model built from the
    config without its ``quantization_config``.
``llama3_checkpoint_dir``
    A tiny random-weight ``LlamaForCausalLM`` whose byte-level BPE tokenizer
    is trained here with the ``tokenizers`` library, with Llama 3's special
    tokens (``<|begin_of_text|>``, ``<|eot_id|>``, ``<|end_of_text|>``, no
    pad token), two end tokens in its configs and Llama 3's chat template.
    The weights are random: it exercises plumbing, grammar and stopping.
``float32_backend``
    The bundled model in float32. Tests that compare texts made in calls of
    different shapes use it: in bfloat16 the matrix kernels round
    differently for different batch shapes (on AMX, for one), so equal
    texts across shapes hold exactly in float32 only.
"""

import pytest
import torch

LLAMA3_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' "
    "+ message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eot_id|>"]


@pytest.fixture(scope="session")
def float32_backend():
    from skteam.llm import get_backend

    return get_backend("embedded?dtype=float32")


@pytest.fixture(scope="session")
def hf_checkpoint_dir(tmp_path_factory):
    """The bundled model written as a checkpoint directory (float32 weights)."""
    from skteam.llm.embedded import write_checkpoint_dir

    return write_checkpoint_dir(tmp_path_factory.mktemp("smollm2-hf"))


def _llama3_corpus():
    words = ("age sex score income yes no male female record records write one "
             "new line realistic rows table column value class label the a of "
             "and you are system user assistant").split()
    lines = []
    for i in range(400):
        picks = [words[(i * k + k) % len(words)] for k in range(1, 8)]
        lines.append(f"{' '.join(picks)} {i} {i * 7 % 100}.{i % 10} -{i % 13},"
                     f"{i % 3}: \"{picks[0]}\" [{i}] {{ }} _")
    return lines


@pytest.fixture(scope="session")
def llama3_checkpoint_dir(tmp_path_factory):
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import (
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    out = tmp_path_factory.mktemp("llama3-tiny")
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700, special_tokens=LLAMA3_SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator(_llama3_corpus(), trainer)
    bos, eot, eos = (raw.token_to_id(t) for t in
                     ("<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>"))
    raw.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
        chat_template=LLAMA3_CHAT_TEMPLATE,
    )
    assert tokenizer.pad_token is None
    # a vocabulary padded past the tokenizer's size, as in real checkpoints
    vocab = (len(tokenizer) + 63) // 64 * 64
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=8192, bos_token_id=bos, eos_token_id=[eos, eot],
        pad_token_id=None, tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=bos,
                                               eos_token_id=[eos, eot])
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
