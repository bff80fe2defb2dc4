from lcmem.memory.dates import find_dates, parse_date


def values(text, clock=None, **kw):
    return [(m.text, m.value) for m in find_dates(text, clock, **kw)]


def test_absolute_formats_all_give_the_same_day():
    for text in [
        "March 5, 2021",
        "5 March 2021",
        "2021-03-05",
        "the 5th of March, 2021",
        "Friday, March 5, 2021",
        "03/05/2021",
        "Mar. 5th 2021",
    ]:
        assert parse_date(text) == "2021-03-05", text


def test_day_first_slash_dates():
    assert parse_date("05/03/2021") == "2021-05-03"
    assert find_dates("05/03/2021", day_first=True)[0].value == "2021-03-05"


def test_weekday_prefix_is_part_of_the_absolute_date_not_a_relative_one():
    # "On Friday" alone would be relative; with a full date after it the full date wins.
    assert values("On Friday, October 28, 2022, they met.", clock="2022-11-30") == [
        ("Friday, October 28, 2022", "2022-10-28")
    ]


def test_relative_dates_resolve_against_the_clock_and_advance_it():
    found = values("The next day they left. Three weeks later they came back.", "2021-12-30")
    assert found == [("The next day", "2021-12-31"), ("Three weeks later", "2022-01-21")]
    assert parse_date("a fortnight later", "2021-03-01") == "2021-03-15"
    assert parse_date("two months ago", "2021-03-31") == "2021-01-31"
    assert parse_date("the previous day", "2021-03-01") == "2021-02-28"
    assert parse_date("that same evening", "2021-03-01T18:00:00") == "2021-03-01"


def test_weekdays_relative_to_the_clock():
    # 2021-03-10 is a Wednesday
    assert parse_date("the following Monday", "2021-03-10") == "2021-03-15"
    assert parse_date("last Monday", "2021-03-10") == "2021-03-08"
    assert parse_date("next Wednesday", "2021-03-10") == "2021-03-17"


def test_year_less_date_takes_the_clock_year_or_stays_unresolved():
    assert parse_date("on March 5", "2019-01-01") == "2019-03-05"
    assert find_dates("on March 5")[0].value is None


def test_relative_without_clock_and_vague_phrases_are_unresolved():
    assert find_dates("two days later")[0].value is None
    for text in ["some time later", "a few weeks later", "one day", "long ago"]:
        m = find_dates(text, "2021-01-01")
        assert m and m[0].value is None and m[0].kind == "vague", text


def test_impossible_date_is_unresolved_not_an_error():
    assert parse_date("February 30, 2021") is None
    assert parse_date("2021-13-40") is None


def test_chat_timestamps():
    assert parse_date("yesterday", "2024-05-02T10:00:00") == "2024-05-01"
    assert parse_date("2024-05-02T10:30") == "2024-05-02T10:30:00"
