"""LLaVA's conversation format: one record of its instruction data as one training sequence.

LLaVA-Instruct stores a sample as a list of turns {"from": "human" | "gpt", "value": text},
with an "<image>" placeholder in the first human turn. The paper lays a conversation out as
(Liu et al., 2023, Table 2; `conv_llava_v0` in LLaVA's code, with <STOP> = "###")

    X_system <STOP> Human: X_instruct^1 <STOP> Assistant: X_a^1 <STOP> Human: X_instruct^2 ...

and computes the loss on the assistant's answers and the <STOP> after each one only: the
model learns to answer and where to stop, never to write the human's turns.
"""

from __future__ import annotations

# Vicuna-v0's system message, which LLaVA's first version keeps (conv_llava_v0)
SYSTEM_V0 = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
STOP = "###"
ROLES = {"human": "Human", "gpt": "Assistant"}


def segments(
    turns: list[dict], system: str = SYSTEM_V0, stop: str = STOP
) -> list[tuple[str, bool]]:
    """The training sequence of one conversation as (text, is_target) pieces, in order.

    Joined, the texts are the sequence; the loss is computed on the pieces marked True: each
    answer with the stop after it. turns: LLaVA-Instruct's "conversations" list, alternating
    human and gpt, human first, "<image>" in the first turn only.
    """
    _check_turns(turns)
    pieces = [(system + stop, False)]
    for turn in turns:
        role = ROLES[turn["from"]]
        if turn["from"] == "human":
            # the instruction and the assistant's cue are context: no loss on them
            pieces.append((f"{role}: {turn['value']}{stop}{ROLES['gpt']}: ", False))
        else:
            pieces.append((turn["value"] + stop, True))
    return pieces


def _check_turns(turns) -> None:
    """LLaVA-Instruct's layout: human and gpt alternate, human first and gpt last, and
    "<image>" sits in the first turn only."""
    if not isinstance(turns, list) or not turns:
        raise TypeError(
            f"turns must be a non-empty list of {{'from', 'value'}} dicts, got {turns!r}"
        )
    for i, turn in enumerate(turns):
        expected = "human" if i % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise TypeError(f"turn {i} must be a dict with a str 'value', got {turn!r}")
        if turn.get("from") != expected:
            raise ValueError(
                f"turns alternate human and gpt, human first: turn {i} must be from "
                f"{expected!r}, got {turn.get('from')!r}"
            )
        if ("<image>" in turn["value"]) != (i == 0):
            raise ValueError(
                f"'<image>' belongs in the first human turn only; turn {i} "
                f"{'has' if i else 'lacks'} it"
            )
    if len(turns) % 2:
        raise ValueError(f"a conversation ends with the assistant's answer, got {len(turns)} turns")
