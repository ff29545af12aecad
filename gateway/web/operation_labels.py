"""Labels of operations and first-part sign-off (kiosk, order page, desk), French first.

Kept apart from ``page_labels`` (which includes them) so that each page family's words change on their own.
"""

from __future__ import annotations

from typing import Any

OPERATION_LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "operation": "Opération",
        "operations": "Opérations",
        "operation_short": "op.",
        "any_machine": "toute machine",
        "machine_group": "Groupe de machines",
        "standard_setup": "Réglage standard",
        "first_part": "Premier article",
        "first_part_asked": "Validation du premier article",
        "first_part_pending": "Premier article en attente : les pièces ne comptent pas encore.",
        "first_part_pending_on": "En attente du premier article sur",
        "first_part_ok": "Premier article validé",
        "first_part_nok": "Premier article refusé",
        "first_parts": "Validations du premier article",
        "no_first_parts": "Aucune validation pour l'instant.",
        "verdict": "Verdict",
        "verdict_ok": "Conforme (OK)",
        "verdict_nok": "Non conforme (NOK)",
        "measured": "Mesure",
        "note": "Note",
        "by": "Par",
        "master_badge": "Badge du maître d'atelier",
        "master_badge_hint": "Un maître contrôle la pièce, choisit le verdict et passe son badge.",
        "approve": "Enregistrer le verdict",
        "kiosk_approved": "Verdict du premier article enregistré.",
        "badge_out_master": "Un maître d'atelier peut aussi terminer la séance avec son badge.",
        "pending": "En attente",
        "mismatches": "Programmes hors opération",
        "mismatch": "Programme {program} ≠ opération {operation} ({expected})",
        "add_operation": "Ajouter une opération",
        "remove": "Retirer",
        "operations_hint": "Une ligne par opération ; une opération qui a servi ne peut plus être retirée.",
        "programs_inline": "Programmes (séparés par des espaces)",
        "user_badge": "Badge",
        "user_badge_hint": "Cliquez dans le champ puis passez le badge du maître sur le lecteur ; vide : retiré.",
        "user_done_badge": "Badge du maître enregistré.",
    },
    "en": {
        "operation": "Operation",
        "operations": "Operations",
        "operation_short": "op.",
        "any_machine": "any machine",
        "machine_group": "Machine group",
        "standard_setup": "Standard setup",
        "first_part": "First part",
        "first_part_asked": "First-part approval",
        "first_part_pending": "First part pending: the parts do not count yet.",
        "first_part_pending_on": "Waiting for the first part on",
        "first_part_ok": "First part approved",
        "first_part_nok": "First part rejected",
        "first_parts": "First-part approvals",
        "no_first_parts": "No approval yet.",
        "verdict": "Verdict",
        "verdict_ok": "Conform (OK)",
        "verdict_nok": "Not conform (NOK)",
        "measured": "Measured",
        "note": "Note",
        "by": "By",
        "master_badge": "Master's badge",
        "master_badge_hint": "A master checks the part, chooses the verdict and scans their badge.",
        "approve": "Record the verdict",
        "kiosk_approved": "First-part verdict recorded.",
        "badge_out_master": "A workshop master may also end the session with their badge.",
        "pending": "Pending",
        "mismatches": "Programs outside the operation",
        "mismatch": "Program {program} ≠ operation {operation} ({expected})",
        "add_operation": "Add an operation",
        "remove": "Remove",
        "operations_hint": "One line per operation; an operation that was worked on can no longer be removed.",
        "programs_inline": "Programs (separated by spaces)",
        "user_badge": "Badge",
        "user_badge_hint": "Click in the field, then hold the master's badge to the reader; empty: taken back.",
        "user_done_badge": "Master's badge saved.",
    },
}

# What a master just did, said at the top of the page it lands on (``_desk_form.done_notice``).
DONE_MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "first_part_done": "Verdict du premier article enregistré.",
        "operation_saved": "Opération enregistrée.",
        "operation_added": "Opération ajoutée.",
        "operation_removed": "Opération retirée.",
        "badge_saved": "Badge enregistré.",
    },
    "en": {
        "first_part_done": "First-part verdict recorded.",
        "operation_saved": "Operation saved.",
        "operation_added": "Operation added.",
        "operation_removed": "Operation removed.",
        "badge_saved": "Badge saved.",
    },
}


def merge_into(labels: dict[str, dict[str, Any]]) -> None:
    for lang, more in OPERATION_LABELS.items():
        labels[lang].update(more)
        labels[lang]["done_messages"] = {**labels[lang].get("done_messages", {}), **DONE_MESSAGES[lang]}
