"""The extractor behind tests/integration/test_doc_commands.py: which lines of a document are commands."""

import pytest

from tests.doc_commands import documented_commands, split_comment

FENCE = "```"


def doc(*blocks: str, language: str = "bash") -> str:
    return "\n".join(f"Some prose.\n\n{FENCE}{language}\n{block}\n{FENCE}\n" for block in blocks)


def test_each_line_of_a_bash_block_is_a_command_with_its_line_number():
    commands = documented_commands(doc("stockmind local up\n\nstockmind local status"))
    assert [(c.line, c.text) for c in commands] == [(4, "stockmind local up"), (6, "stockmind local status")]


@pytest.mark.parametrize("language", ["", "text", "python", "json"])
def test_blocks_in_other_languages_are_never_commands(language):
    assert documented_commands(doc("S3 bucket ──▶ SQS", language=language)) == []


def test_comment_lines_and_prose_comments_are_not_markers():
    [command] = documented_commands(doc("# bulk backfill of existing media\nstockmind backfill   # resumable"))
    assert command.text == "stockmind backfill   # resumable"
    assert command.markers == {} and command.skip_reason is None and not command.background


def test_continuation_lines_belong_to_the_command_they_continue():
    [command] = documented_commands(doc('ray job submit --address "$A" \\\n'
                                        '    --working-dir . -- python jobs/stream.py'))
    assert command.text.splitlines()[1].strip() == "--working-dir . -- python jobs/stream.py"


def test_a_here_document_is_part_of_its_command():
    block = "cat >> .stockmind/cluster.env <<'EOF'\nDATABASE_URL=postgresql://x\nEOF\necho done"
    first, second = documented_commands(doc(block))
    assert first.text.splitlines() == ["cat >> .stockmind/cluster.env <<'EOF'", "DATABASE_URL=postgresql://x", "EOF"]
    assert second.text == "echo done" and second.line == 7


def test_markers_sit_beside_prose_in_the_trailing_comment():
    [command] = documented_commands(doc("stockmind keys create --client c   # prints the key once  # expect: smk_\\w+"))
    assert command.markers == {"expect": r"smk_\w+"}
    assert command.expect == r"smk_\w+"


@pytest.mark.parametrize("comment, reason", [("# needs: aws", "needs aws"), ("# needs: gpu", "needs gpu"),
                                             ("# skip: runs the whole test suite", "runs the whole test suite")])
def test_needs_and_skip_give_the_reason_shown(comment, reason):
    [command] = documented_commands(doc(f"terraform apply   {comment}"))
    assert command.skip_reason == reason


def test_background_needs_no_value():
    [command] = documented_commands(doc("stockmind serve   # the page on :8000  # background"))
    assert command.background


def test_a_comment_line_of_markers_alone_applies_to_the_rest_of_its_block():
    first, second, third, next_block = documented_commands(doc("echo local\n# needs: aws\nray up cluster.yaml\n"
                                                               "ray down cluster.yaml",
                                                               "echo next block"))
    assert first.skip_reason is None
    assert second.skip_reason == third.skip_reason == "needs aws"
    assert next_block.skip_reason is None


def test_a_marker_on_a_continued_line_belongs_to_the_whole_command():
    [command] = documented_commands(doc("ray job submit \\\n    -- python jobs/stream.py   # expect: stream finished"))
    assert command.expect == "stream finished"


@pytest.mark.parametrize("line, code", [
    ("echo '# not a comment' # real", "echo '# not a comment' "),
    ('echo "a#b" x', 'echo "a#b" x'),
    ("curl http://h/#frag", "curl http://h/#frag"),
])
def test_a_comment_starts_at_an_unquoted_hash_that_starts_a_word(line, code):
    assert split_comment(line)[0] == code


def test_an_unclosed_block_is_an_error_not_a_silently_shorter_document():
    with pytest.raises(ValueError, match="never closed"):
        documented_commands(f"{FENCE}bash\nstockmind local up\n")
