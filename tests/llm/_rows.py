"""Shared by the backend tests: a three-column row grammar, its prompts, a check."""

GRAMMAR = """start: c0 "," c1 "," c2 "\\n"
c0: %json {"type": "integer", "minimum": 18, "maximum": 80}
c1: "Male" | "Female"
c2: %json {"type": "number", "minimum": -3.5, "maximum": 3.5, "multipleOf": 0.01}
"""
EXAMPLES = ["25,Male,0.53", "47,Female,-1.20", "33,Male,2.10", "61,Female,0.05"]


def row_prompts(backend, n):
    """``n`` prompts asking for one row, each with the examples rotated."""
    out = []
    for i in range(n):
        ex = EXAMPLES[i % 4:] + EXAMPLES[: i % 4]
        out.append(backend.chat_prompt(
            "You write realistic records.",
            "Records (age,sex,score):\n" + "\n".join(ex) + "\nWrite one new line.",
        ))
    return out


def check_row_line(line):
    """Assert that ``line`` is one complete line of :data:`GRAMMAR`."""
    assert line.endswith("\n")
    age, sex, score = line.strip().split(",")
    assert 18 <= int(age) <= 80 and str(int(age)) == age
    assert sex in {"Male", "Female"}
    assert -3.5 <= float(score) <= 3.5
    assert len(score.split(".")[-1]) <= 2
