"""The Evolution chapter's language model of the unimodal era: a LLaMA-style decoder
trained by next-token prediction, character by character, on the Zen of Python.

The corpus ships with every Python (`import this` prints it; `this.s` holds it ROT13-
encoded). One line is held out of training. The chapter trains the model live; the spread
of its figures over seeds and kernels is in `minivlm.recipes.spread`.
"""

from __future__ import annotations

import codecs
import contextlib
import io
from dataclasses import dataclass, field

import torch

from ..llama import Llama, LlamaConfig

HELD_OUT = "Now is better than never."


def zen() -> str:
    """The Zen of Python, decoded, without printing it."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the poem
        import this
    return codecs.decode(this.s, "rot13")


class CharVocabulary:
    """The characters of a text, each an id in sorted order."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.ids = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        missing = sorted(set(text) - set(self.ids))
        if missing:
            raise ValueError(f"text must use the vocabulary's characters, got {missing}")
        return torch.tensor([self.ids[c] for c in text])

    def decode(self, ids: torch.Tensor) -> str:
        return "".join(self.chars[i] for i in ids.tolist())


@dataclass(frozen=True)
class CharLMRecipe:
    steps: int = 300
    batch_size: int = 32  # windows of the training text per step
    lr: float = 3e-3
    eval_every: int = 25  # steps between two measurements of the held-out loss
    seed: int = 0


def config(vocab_size: int) -> LlamaConfig:
    """The book's tiny language model: two blocks of width 64, a context of 64 characters."""
    return LlamaConfig.tiny(vocab_size)


@torch.no_grad()
def loss_of(lm: Llama, ids: torch.Tensor) -> float:
    """Mean next-token loss of (B, T) token ids; Llama.forward shifts the labels."""
    lm.eval()
    return lm(ids, labels=ids)[1].item()


@dataclass
class TrainedCharLM:
    lm: Llama
    vocab: CharVocabulary
    losses: list[float] = field(default_factory=list)  # per training step
    held_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, held-out loss)


def train(
    recipe: CharLMRecipe, text: str, vocab: CharVocabulary, held_out: str = HELD_OUT
) -> TrainedCharLM:
    """AdamW on random windows of the context length, a fixed number of steps, measuring
    the loss of the held-out line every eval_every steps (and after the last)."""
    torch.manual_seed(recipe.seed)
    lm = Llama(config(len(vocab)))
    context = lm.config.max_seq_len
    train_ids, held_ids = vocab.encode(text), vocab.encode(held_out)
    optimizer = torch.optim.AdamW(lm.parameters(), lr=recipe.lr, weight_decay=0.0)
    windows = torch.Generator().manual_seed(recipe.seed)
    trained = TrainedCharLM(lm, vocab)
    for step in range(recipe.steps + 1):
        if step % recipe.eval_every == 0 or step == recipe.steps:
            trained.held_curve.append((step, loss_of(lm, held_ids[None])))
        if step == recipe.steps:
            break
        starts = torch.randint(len(train_ids) - context, (recipe.batch_size,), generator=windows)
        batch = torch.stack([train_ids[s : s + context] for s in starts])  # (B, context)
        lm.train()
        _, loss = lm(batch, labels=batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        trained.losses.append(loss.item())
    lm.eval()
    return trained


def complete(trained: TrainedCharLM, prompt: str, n: int = 40, **kwargs) -> str:
    """The prompt and n characters the model writes after it (greedy unless told)."""
    out = trained.lm.generate(trained.vocab.encode(prompt)[None], max_new_tokens=n, **kwargs)
    return trained.vocab.decode(out[0])


@torch.no_grad()
def next_char_probs(trained: TrainedCharLM, prefix: str) -> torch.Tensor:
    """p(next character | prefix), (V,)."""
    logits, _ = trained.lm(trained.vocab.encode(prefix)[None])
    return logits[0, -1].softmax(dim=-1)


def figures(seed: int) -> dict[str, float]:
    """The chapter's figures for one seed, for minivlm.recipes.spread."""
    poem = zen()
    text, vocab = poem.replace(HELD_OUT + "\n", ""), CharVocabulary(poem)
    trained = train(CharLMRecipe(seed=seed), text, vocab)
    context = trained.lm.config.max_seq_len
    ids = vocab.encode(text)
    windows = ids[: len(ids) // context * context].view(-1, context)  # (N, context)
    best_step, best = min(trained.held_curve, key=lambda point: point[1])
    probs = next_char_probs(trained, "If the implementation is ")
    prompts = ["Beautiful is", "Errors should"]
    return {
        "train_loss": loss_of(trained.lm, windows),
        "held_best": best,
        "held_best_step": float(best_step),
        "held_final": trained.held_curve[-1][1],
        "p_easy": probs[vocab.ids["e"]].item(),
        "p_hard": probs[vocab.ids["h"]].item(),
        # training prompts whose greedy continuation is the training text, word for word
        "prompts_memorised": float(sum(complete(trained, p) in text for p in prompts)),
    }
