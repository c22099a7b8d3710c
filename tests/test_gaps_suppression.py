"""The one rule of small numbers (csrn/gaps/suppression.py), as properties over any table of counts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from csrn.gaps.suppression import COMPLEMENTARY, PRIMARY, enough_for_statistics, protect, protect_list

tables = st.integers(1, 6).flatmap(lambda columns: st.lists(
    st.lists(st.one_of(st.integers(0, 6), st.integers(0, 60)), min_size=columns, max_size=columns),
    min_size=1, max_size=6))


@given(tables)
@settings(max_examples=300, deadline=None)
def test_small_numbers_are_hidden_and_none_can_be_worked_out(matrix):
    shown = protect(matrix)
    rows, columns = len(matrix), len(matrix[0])
    for r in range(rows):
        for c in range(columns):
            cell, value = shown.cells[r][c], matrix[r][c]
            if 0 < value < 5:
                assert cell.text == PRIMARY and cell.hidden
            elif cell.hidden:
                assert cell.text == COMPLEMENTARY and value >= 5
            else:
                assert cell.text == str(value) and cell.value == value
    lines = [[(r, c) for c in range(columns)] for r in range(rows)] + \
        [[(r, c) for r in range(rows)] for c in range(columns)]
    for line in lines:
        hidden = [(r, c) for r, c in line if shown.cells[r][c].hidden]
        # Exactly one hidden cell only where every other cell of the line is zero (then the total is approximate).
        if len(hidden) == 1:
            assert all(matrix[r][c] == 0 for r, c in line if (r, c) not in hidden)
    for r in range(rows):
        total, exact = sum(matrix[r]), not any(cell.hidden for cell in shown.cells[r])
        assert shown.row_totals[r].text == (str(total) if exact else f"≈{5 * round(total / 5)}")
    for c in range(columns):
        total = sum(row[c] for row in matrix)
        exact = not any(shown.cells[r][c].hidden for r in range(rows))
        assert shown.column_totals[c].approximate is not exact
        assert shown.column_totals[c].text == (str(total) if exact else f"≈{5 * round(total / 5)}")


def test_the_worked_example():
    """A 3 beside a 7 and a 20: the 3 is "<5", the 7 goes too, and the row total is rounded."""
    shown = protect([[3, 7, 20], [10, 12, 30]])
    assert [cell.text for cell in shown.cells[0]] == ["<5", "*", "20"]
    # Column 0 and column 1 now hold one hidden cell each: the 10 and the 12 below them go too.
    assert [cell.text for cell in shown.cells[1]] == ["*", "*", "30"]
    assert [t.text for t in shown.row_totals] == ["≈30", "≈50"]
    assert [t.text for t in shown.column_totals] == ["≈15", "≈20", "50"]
    assert shown.total.text == "≈80"


def test_zero_is_shown_and_a_list_hides_a_second_value():
    assert [s.text for s in protect_list([0, 2, 9, 40])] == ["0", "<5", "*", "40"]
    assert [s.text for s in protect_list([0, 0, 12])] == ["0", "0", "12"]
    assert protect_list([]) == []


def test_statistics_need_five_values():
    assert not enough_for_statistics(4) and enough_for_statistics(5)
