"""The console's summary of what the caller said: only the caller's own sentences."""

from ivr.web.summary import caller_sentences, summarize


def _lines(*pairs):
    return [{"who": who, "text": text} for who, text in pairs]


def test_only_the_callers_words_and_each_sentence_once():
    lines = _lines(("line", "Say one for the pharmacy."), ("caller", "two"),
                   ("caller", "My father fell. He cannot get up."),
                   ("caller", "my father fell."))
    assert caller_sentences(lines) == ["two", "My father fell.", "He cannot get up."]


def test_what_triage_heard_comes_first_and_order_is_kept():
    lines = _lines(("caller", "Good morning to you, I hope you are well today."),
                   ("caller", "I have chest pain since this morning."),
                   ("caller", "I also had a cold last week that went away."),
                   ("caller", "And I feel short of breath now."))
    got = summarize(lines, ["chest_pain", "short of breath"], limit=2)
    assert got == ["I have chest pain since this morning.", "And I feel short of breath now."]


def test_menu_answers_are_left_out_unless_nothing_else_was_said():
    lines = _lines(("caller", "[pressed 1]"), ("caller", "yes"),
                   ("caller", "the pills make me dizzy when I stand up"))
    assert summarize(lines) == ["the pills make me dizzy when I stand up"]
    assert summarize(_lines(("caller", "[pressed 2]"))) == ["[pressed 2]"]
    assert summarize([]) == []


def test_chinese_sentences_count_characters_as_words():
    lines = _lines(("caller", "好的"), ("caller", "我胸口很痛。已经一个小时了。"))
    got = summarize(lines, ["胸口痛"])
    assert got == ["我胸口很痛。", "已经一个小时了。"]


def test_a_long_sentence_is_cut_at_a_word_and_never_extended():
    long = "my " + " ".join(["head"] * 80) + " hurts"
    [got] = summarize(_lines(("caller", long)))
    assert got.endswith("…") and len(got) <= 161
    assert long.startswith(got[:-1])
