"""French labels of what the history of an account records (B10) and of the audit log's actions (J2):
a console page shows words, never the codes stored."""
import re

EVENT_LABELS = {
    "created": "Compte créé",
    "temporary_password_issued": "Mot de passe provisoire attribué",
    "notification_requested": "Notification demandée",
    "notification_failed": "Échec de la notification",
    "class_list_printed": "Mot de passe provisoire réattribué (liste de classe)",
    "notified": "Notifié",
    "notified_by_first_login": "Notifié (première connexion avant le compte rendu d'envoi)",
    "first_login": "Première connexion",
    "email_confirmed": "Adresse électronique confirmée",
    "confirmation_resent": "Courriel d'activation renvoyé",
    "confirmation_expired": "Lien de confirmation expiré (retour à Notifié)",
    "login": "Connexion",
    "password_reset_requested": "Demande de nouveau mot de passe",
    "password_reset": "Nouveau mot de passe choisi",
    "password_changed": "Mot de passe modifié",
    "email_change_requested": "Changement d'adresse électronique demandé",
    "login_reminder_sent": "Rappel de l'identifiant envoyé",
    "access_refused": "Accès aux services en ligne retiré",
    "access_restored": "Accès aux services en ligne rétabli",
    "merged": "Regroupement d'un autre compte",
    "merged_into": "Regroupé dans un autre compte",
    "expiry_reminder_sent": "Rappel avant suppression envoyé",
    "kept_from_previous_school": "Conservé lors d'un changement d'établissement",
    "continuity_reset_authorised": "Réinitialisation autorisée par l'administrateur académique",
    "link_ended": "Ne sert plus un élève de l'établissement",
    "deleted": "Compte supprimé",
}

END_REASONS = {
    "departed": "élève parti",
    "guardian_departed": "responsable retiré de SIECLE",
    "no_longer_legal_guardian": "n'est plus responsable légal",
    "moved_to_another_school": "changement d'établissement",
    "replaced_by_new_account": "remplacé par un nouveau compte",
    "expired_not_activated": "non activé dans les 3 mois",
    "expired_unused": "inutilisé depuis un an",
}

MERGED_INTO = "merged_into:"


def end_reason(reason: str | None) -> str:
    """Why an account stopped serving the couple, in words (« regroupé dans brigitte.collin »)."""
    if not reason:
        return "fin du rattachement"
    if reason.startswith(MERGED_INTO):
        return f"regroupé dans {reason[len(MERGED_INTO):]}"
    return END_REASONS.get(reason, "fin du rattachement")


def event_label(action: str) -> str:
    return EVENT_LABELS.get(action, "Autre événement")


# J2: every action the audit log records (accounts' own, and those the notifier reports).
AUDIT_ACTIONS = {
    "staff.signed_in": "Connexion à la console",
    "staff.password_changed": "Mot de passe du personnel modifié",
    "staff.password_reset": "Mot de passe du personnel réinitialisé",
    "delegation.granted": "Délégation accordée",
    "delegation.revoked": "Délégation retirée",
    "head.appointed": "Chef d'établissement désigné",
    "services.activated": "Activation des téléservices",
    "service.opened": "Ouverture ou fermeture d'un service",
    "notes.publication_changed": "Publication des notes modifiée",
    "notes.date_added": "Date de publication des notes ajoutée",
    "notes.date_removed": "Date de publication des notes supprimée",
    "payment.configured": "Paiement en ligne paramétré",
    "settings.welcome_message": "Message d'accueil modifié",
    "settings.ent": "ENT et courrier de notification modifiés",
    "settings.contact": "Lien de contact modifié",
    "settings.useful_link_added": "Lien utile ajouté",
    "settings.useful_link_changed": "Lien utile modifié",
    "settings.useful_link_deleted": "Lien utile supprimé",
    "import.done": "Import des fichiers SIECLE",
    "notification.requested": "Notification des comptes",
    "notification.expiry_reminder": "Renotification des comptes bientôt supprimés",
    "accounts.expired": "Suppression des comptes non activés ou inutilisés",
    "class_list.requested": "Liste de classe demandée",
    "account.access_refused": "Accès aux services en ligne retiré",
    "account.access_restored": "Accès aux services en ligne rétabli",
    "account.activation_resent": "Courriel d'activation renvoyé",
    "account.recreated": "Nouveau compte créé",
    "email.written": "Courriel écrit à une famille",
    "continuity.pending": "Continuité d'accès en attente",
    "continuity.completed": "Continuité d'accès réalisée",
    "continuity.refused": "Continuité d'accès refusée",
    "continuity.cancelled": "Continuité d'accès annulée",
    "continuity.reset_authorised": "Réinitialisation autorisée par l'académie",
    "school.added": "Établissement ajouté",
    "school.identity_changed": "Identité de l'établissement modifiée",
    "school.email_added": "Adresse de l'établissement ajoutée",
    "school.email_removed": "Adresse de l'établissement supprimée",
    "school.year_started": "Nouvelle année scolaire",
    "academy.service_added": "Service académique ajouté",
    "academy.service_changed": "Service académique modifié",
    "academy.service_deleted": "Service académique supprimé",
    "academy.ent_link_added": "ENT académique ajouté",
    "academy.ent_link_removed": "ENT académique supprimé",
    "academy.tipi_added": "Numéro client TIPI ajouté",
    "academy.tipi_removed": "Numéro client TIPI supprimé",
    "letters.part_saved": "Texte des courriers modifié",
    "letters.part_reset": "Texte des courriers rétabli",
    "files.downloaded": "Fichier de mots de passe téléchargé",
}
OTHER_ACTION = "Autre action"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def audit_action(code: str) -> str:
    return AUDIT_ACTIONS.get(code, OTHER_ACTION)


def audit_target(action: str, target: str | None) -> str:
    """What an entry acted on, in words: a batch or a file recorded by its id (older entries) is
    named by what it is."""
    if not target:
        return ""
    if _UUID.fullmatch(target.strip()):
        return {"notification.requested": "lot de notification", "class_list.requested": "liste de classe",
                "files.downloaded": "fichier de mots de passe"}.get(action, "")
    return target
