import pytest

from minivlm.conversation import STOP, SYSTEM_V0, segments

TURNS = [
    {"from": "human", "value": "<image>\nWhat colour is the bus?"},
    {"from": "gpt", "value": "It is red."},
    {"from": "human", "value": "Is it moving?"},
    {"from": "gpt", "value": "Yes."},
]


def test_the_sequence_is_llavas_v0_prompt_and_only_answers_with_their_stop_are_targets():
    pieces = segments(TURNS)
    # LLaVA's conv_llava_v0.get_prompt(): system ### role: message ### ... (SeparatorStyle.SINGLE)
    expected = (
        SYSTEM_V0
        + "###"
        + "Human: <image>\nWhat colour is the bus?###"
        + "Assistant: It is red.###"
        + "Human: Is it moving?###"
        + "Assistant: Yes.###"
    )
    assert "".join(text for text, _ in pieces) == expected
    assert [text for text, target in pieces if target] == ["It is red." + STOP, "Yes." + STOP]
    assert [target for _, target in pieces] == [False, False, True, False, True]


def test_another_stop_and_system():
    pieces = segments(TURNS[:2], system="S", stop="</s>")
    assert pieces == [
        ("S</s>", False),
        ("Human: <image>\nWhat colour is the bus?</s>Assistant: ", False),
        ("It is red.</s>", True),
    ]


@pytest.mark.parametrize(
    "turns, error, match",
    [
        ([], TypeError, "non-empty list"),
        ("hello", TypeError, "non-empty list"),
        (
            [{"from": "gpt", "value": "<image> hi"}, TURNS[1]],
            ValueError,
            "turn 0 must be from 'human', got 'gpt'",
        ),
        ([TURNS[0], {"from": "human", "value": "x"}], ValueError, "turn 1 must be from 'gpt'"),
        ([{"from": "human", "value": "no image"}, TURNS[1]], ValueError, "turn 0 lacks it"),
        (
            [TURNS[0], TURNS[1], {"from": "human", "value": "<image> again"}, TURNS[3]],
            ValueError,
            "turn 2 has it",
        ),
        (TURNS[:3], ValueError, "ends with the assistant's answer, got 3 turns"),
        (
            [TURNS[0], {"from": "gpt", "value": 3}],
            TypeError,
            "turn 1 must be a dict with a str 'value'",
        ),
    ],
)
def test_bad_conversations_are_named(turns, error, match):
    with pytest.raises(error, match=match):
        segments(turns)
