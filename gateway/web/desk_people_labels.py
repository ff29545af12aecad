"""Labels of the desk's people pages (students, users, screens, IT), French first; merged into ``page_labels``.

Kept apart so that the desk's pages, written side by side, each add their own file
instead of all editing the one list.
"""

from __future__ import annotations

from typing import Any

DESK_PEOPLE_LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "desk_students": "Élèves",
        "desk_students_new": "Nouvel élève",
        "desk_students_import": "Importer des élèves (CSV)",
        "desk_users": "Comptes",
        "desk_screens": "Écrans et postes",
        "desk_it_page": "Informatique : état de la passerelle",
        "search": "Rechercher",
        "search_hint": "Prénom ou badge",
        "all_classes": "Toutes les classes",
        "first_name": "Prénom",
        "last_initial": "Initiale du nom",
        "active": "Actif",
        "inactive": "Désactivé",
        "no_students": "Aucun élève ne correspond.",
        "save": "Enregistrer",
        "create": "Créer",
        "cancel": "Annuler",
        "edit": "Modifier",
        "badge_scan_hint": "Cliquez dans le champ puis passez le badge sur le lecteur.",
        "disable": "Désactiver",
        "enable": "Réactiver",
        "export_json": "Exporter ses données (JSON)",
        "delete": "Supprimer",
        "delete_title": "Supprimer l'élève {name} ?",
        "delete_text": (
            "Ses comptes et ses connexions sont supprimés ; ses séances restent, sans nom, pour que les "
            "commandes gardent leurs comptes. On ne peut pas revenir en arrière."
        ),
        "delete_confirm": "Oui, supprimer définitivement",
        "form_has_errors": "Le formulaire contient des erreurs : voyez les champs signalés.",
        "done_created": "Élève créé.",
        "done_saved": "Modifications enregistrées.",
        "done_disabled": "Élève désactivé : ses connexions sont fermées.",
        "done_enabled": "Élève réactivé.",
        "done_deleted": "Élève supprimé.",
        "done_imported": "{n} élève(s) importé(s).",
        "tracks": {"CAP": "CAP", "BAC_PRO": "Bac Pro"},
        "import_intro": (
            "Un fichier CSV en UTF-8 avec les colonnes first_name, last_initial, class_name, track (CAP ou "
            "BAC_PRO) et badge. Rien n'est écrit tant qu'une ligne a une erreur."
        ),
        "csv_file": "Fichier CSV",
        "preview": "Aperçu",
        "line": "Ligne",
        "problems": "Erreurs",
        "import_errors": "{n} erreur(s) : corrigez le fichier et recommencez. Rien n'a été importé.",
        "import_ready": "{n} élève(s) prêt(s) à être importé(s).",
        "import_confirm": "Importer ces élèves",
        "import_empty": "Le fichier ne contient aucun élève.",
        "import_no_file": "Choisissez un fichier CSV.",
        "screens_intro": (
            "Une tablette à une machine (poste) ou un écran d'atelier s'ouvre avec un jeton. Émettez-le ici, "
            "imprimez la fiche et scannez son QR code avec l'appareil."
        ),
        "issue_token": "Émettre un jeton",
        "token_role": "Type d'écran",
        "token_roles": {"kiosk": "Poste de machine (tablette)", "viewer": "Écran d'atelier (mur)"},
        "token_label": "Nom de l'écran",
        "token_machine": "Machine (pour un poste)",
        "no_machine": "— aucune —",
        "valid_days": "Validité (jours)",
        "tokens": "Jetons émis",
        "no_tokens": "Aucun jeton émis.",
        "created": "Émis le",
        "expires": "Expire le",
        "token_states": {"valid": "valide", "revoked": "révoqué", "expired": "expiré"},
        "revoke": "Révoquer",
        "sheet": "Fiche",
        "done_revoked": "Jeton révoqué : l'écran est déconnecté.",
        "sheet_title": "Fiche d'installation : {label}",
        "sheet_steps": [
            "Allumez la tablette ou l'écran et connectez-le au réseau de l'atelier.",
            "Scannez ce QR code avec son appareil photo, ou tapez le lien dans son navigateur.",
            "La page s'ouvre seule ensuite : ajoutez-la à l'écran d'accueil.",
        ],
        "sheet_link": "Lien",
        "sheet_secret": "Ce lien ouvre l'écran sans mot de passe : gardez la fiche à l'abri, détruisez-la après usage.",
        "sheet_gone": (
            "Le lien n'est montré qu'au moment de l'émission. Pour une nouvelle fiche, révoquez ce jeton "
            "et émettez-en un autre."
        ),
        "print": "Imprimer",
        "qr_alt": "QR code du lien de l'écran",
        "new_user": "Nouveau compte",
        "user_role": "Rôle",
        "user_roles": {"admin": "Maître d'atelier", "viewer": "Consultation (direction)", "student": "Élève"},
        "password_hint": "8 caractères au moins ; communiquez-le de vive voix.",
        "login_student": "Élève (pour un compte élève)",
        "users_list": "Comptes",
        "reset_password": "Nouveau mot de passe",
        "reset_title": "Nouveau mot de passe pour {username}",
        "reset_text": "Ses connexions en cours sont fermées ; il ou elle se connecte avec le nouveau mot de passe.",
        "user_done_created": "Compte créé.",
        "user_done_disabled": "Compte désactivé : ses connexions sont fermées.",
        "user_done_enabled": "Compte réactivé.",
        "user_done_password": "Mot de passe changé : ses connexions sont fermées.",
        "import_not_utf8": "Ce fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 » et recommencez.",
    },
    "en": {
        "desk_students": "Students",
        "desk_students_new": "New student",
        "desk_students_import": "Import students (CSV)",
        "desk_users": "Accounts",
        "desk_screens": "Screens and kiosks",
        "desk_it_page": "IT: gateway status",
        "search": "Search",
        "search_hint": "First name or badge",
        "all_classes": "All classes",
        "first_name": "First name",
        "last_initial": "Last name initial",
        "active": "Active",
        "inactive": "Disabled",
        "no_students": "No student matches.",
        "save": "Save",
        "create": "Create",
        "cancel": "Cancel",
        "edit": "Edit",
        "badge_scan_hint": "Click in the field, then hold the badge to the reader.",
        "disable": "Disable",
        "enable": "Enable again",
        "export_json": "Export their data (JSON)",
        "delete": "Delete",
        "delete_title": "Delete student {name}?",
        "delete_text": (
            "Their logins and accounts are deleted; their work sessions stay, nameless, so that orders keep "
            "their counts. This cannot be undone."
        ),
        "delete_confirm": "Yes, delete for good",
        "form_has_errors": "The form has errors: see the marked fields.",
        "done_created": "Student created.",
        "done_saved": "Changes saved.",
        "done_disabled": "Student disabled: their logins are closed.",
        "done_enabled": "Student enabled again.",
        "done_deleted": "Student deleted.",
        "done_imported": "{n} student(s) imported.",
        "tracks": {"CAP": "CAP", "BAC_PRO": "Bac Pro"},
        "import_intro": (
            "A UTF-8 CSV file with the columns first_name, last_initial, class_name, track (CAP or BAC_PRO) "
            "and badge. Nothing is written while any line has an error."
        ),
        "csv_file": "CSV file",
        "preview": "Preview",
        "line": "Line",
        "problems": "Errors",
        "import_errors": "{n} error(s): fix the file and try again. Nothing was imported.",
        "import_ready": "{n} student(s) ready to import.",
        "import_confirm": "Import these students",
        "import_empty": "The file holds no student.",
        "import_no_file": "Choose a CSV file.",
        "import_not_utf8": 'This file is not UTF-8: save it as "CSV UTF-8" and try again.',
    },
}


def merge_into(labels: dict[str, dict[str, Any]]) -> None:
    for lang, more in DESK_PEOPLE_LABELS.items():
        labels[lang].update(more)
