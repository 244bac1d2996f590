"""French labels of what the history of an account records (B10)."""

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
