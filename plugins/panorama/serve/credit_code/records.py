"""What the consumer page shows of each kind of public record, one spec per kind.

A kind whose table is not in the public dataset is skipped; a listed column the table does not
have is left out, so the page follows the dataset as it grows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordKind:
    key: str
    title: str  # heading on the page
    table: str  # public_record.<table>
    date_column: str  # the record's date: newest first
    columns: tuple[tuple[str, str], ...]  # (column, label) shown, in order
    current_only: str | None = None  # boolean column: show only rows where it is true


RECORD_KINDS: tuple[RecordKind, ...] = (
    RecordKind(
        "penalty",
        "行政处罚",
        "pub_penalty",
        "decision_date",
        (
            ("decision_no", "决定书文号"),
            ("violation_type", "违法行为类型"),
            ("penalty_category", "处罚类别"),
            ("penalty_content", "处罚内容"),
            ("authority", "处罚机关"),
            ("publicity_until", "公示截止"),
        ),
    ),
    RecordKind(
        "licence",
        "行政许可",
        "pub_licence",
        "decision_date",
        (
            ("document_name", "许可决定书名称"),
            ("certificate_name", "许可证书名称"),
            ("licence_category", "许可类别"),
            ("licence_no", "许可编号"),
            ("licence_content", "许可内容"),
            ("valid_from", "有效期自"),
            ("valid_to", "有效期至"),
            ("authority", "许可机关"),
            ("publicity_until", "公示截止"),
        ),
    ),
    RecordKind(
        "spot_check",
        "抽查检查结果",
        "pub_spot_check_result",
        "check_date",
        (
            ("task_name", "抽查任务"),
            ("check_org", "检查机关"),
            ("check_type", "检查类型"),
            ("check_items", "检查事项"),
            ("check_result", "检查结果"),
            ("result", "检查结果"),
            ("publicity_until", "公示截止"),
        ),
    ),
    RecordKind(
        "abnormal_list",
        "经营异常名录",
        "pub_abnormal_list",
        "list_date",
        (
            ("list_reason", "列入原因"),
            ("list_org", "作出决定机关"),
            ("remove_date", "移出日期"),
            ("remove_reason", "移出原因"),
            ("publicity_until", "公示截止"),
        ),
    ),
    RecordKind(
        "serious_dishonest",
        "严重违法失信名单",
        "pub_serious_dishonest",
        "list_date",
        (
            ("list_reason", "列入原因"),
            ("list_org", "作出决定机关"),
            ("remove_date", "移出日期"),
            ("remove_reason", "移出原因"),
            ("publicity_until", "公示截止"),
        ),
    ),
)
