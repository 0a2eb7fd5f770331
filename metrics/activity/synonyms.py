"""Words a CRM export uses for the kinds' fields and choice values, besides their codes and labels.

Data only, read by the kinds' registry (`metrics.activity.kinds`) and the import's column guess
(`metrics.activity.imports`). Entries are written as a French or English export spells them;
they are compared without case, accents, spaces or punctuation (« N° de commande » matches
« n de commande » and « N°-DE-COMMANDE »). Adding a word is a data change and a test line.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------
# Choice values: (kind, field) → {code: words meaning it}
# ---------------------------------------------------------------------------
# The code itself and its labels in English and French are always accepted; these are the others.
# fmt: off
CHOICE_SYNONYMS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("orders", "status"): {
        "completed": (
            "finalisée", "finalisé", "terminée", "terminé", "payée", "payé", "livrée", "livré",
            "validée", "validé", "confirmée", "expédiée", "facturée", "réalisée", "complète",
            "paid", "delivered", "shipped", "fulfilled", "complete", "done", "closed won",
        ),
        "abandoned": (
            "abandonnée", "abandonné", "panier abandonné", "abandoned cart", "cart abandoned",
            "panier", "non finalisée", "non payée",
        ),
        "returned": (
            "retournée", "retourné", "retour", "remboursée", "remboursé", "refunded", "refund", "return",
        ),
    },
    ("deals", "status"): {
        "open": ("ouverte", "ouvert", "en cours", "in progress", "active", "en négociation", "pending"),
        "won": (
            "gagnée", "gagné", "signée", "signé", "conclue", "conclu", "fermée gagnée", "closed won",
            "closedwon", "win",
        ),
        "lost": (
            "perdue", "perdu", "fermée perdue", "closed lost", "closedlost", "abandonnée", "abandonné",
            "échouée", "sans suite",
        ),
    },
    ("tickets", "kind"): {
        "question": ("demande d'information", "information", "renseignement", "info"),
        "complaint": ("réclamation", "plainte", "litige", "mécontentement", "claim"),
        "incident": ("panne", "bug", "bogue", "problème", "problem", "dysfonctionnement", "anomalie"),
        "request": ("demande", "requête", "demande de service", "service request", "feature request"),
        "other": ("autre", "autres", "divers", "misc"),
    },
    ("survey-responses", "survey"): {
        "nps": ("net promoter score", "recommandation", "promoter score"),
        "csat": ("satisfaction", "satisfaction client", "customer satisfaction", "customer satisfaction score"),
        "ces": ("effort", "effort client", "customer effort", "customer effort score"),
    },
    ("spend", "category"): {
        "acquisition": ("prospection", "conquête", "acquisition clients", "recrutement", "new business"),
        "retention": ("rétention", "fidélisation", "fidélité", "loyalty", "churn prevention"),
        "other": ("autre", "autres", "divers", "frais généraux", "misc"),
    },
}
# fmt: on


# ---------------------------------------------------------------------------
# Column headers: field → the headers naming it
# ---------------------------------------------------------------------------
# Besides the field's name and its verbose name in English and French. When two columns could fill a
# field, the one whose header comes first in its list wins: per kind first, then these common ones.
# fmt: off
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "Référence", "Réf.", "Ref", "Reference", "Identifiant", "Identifiant externe", "ID externe", "ID",
        "Record ID", "ID de l'enregistrement", "Numéro", "N°", "Number", "Code",
    ),
    "team": ("Équipe", "Team", "Équipe (slug)", "Team slug"),
    "attributes": ("Attributs", "Attributes", "Données complémentaires", "Extra"),
    "customer": (
        "ID client", "Client ID", "Customer ID", "Réf. client", "Référence client", "Code client", "N° client",
        "Numéro client", "Client", "Customer",
    ),
    "campaign": ("ID campagne", "Campaign ID", "Réf. campagne", "Code campagne", "Campagne", "Campaign"),
    "lead": ("ID lead", "Lead ID", "ID prospect", "Prospect", "Lead"),
    "amount": (
        "Montant TTC", "Montant HT", "Montant", "Total TTC", "Total HT", "Total", "Amount", "Valeur", "Value",
        "Prix", "Price",
    ),
    "status": ("Statut", "État", "Status", "State"),
    "channel": ("Canal", "Canal de vente", "Canal d'acquisition", "Channel", "Source", "Origine", "Origin"),
    "owner": ("Propriétaire", "Responsable", "Commercial", "Vendeur", "Owner", "Assigné à", "Assigned to"),
    "created_at": ("Date de création", "Créé le", "Créée le", "Création", "Create date", "Created", "Created date"),
    "closed_at": ("Date de clôture", "Clôturé le", "Clôturée le", "Close date", "Closed date", "Closed"),
    "name": ("Nom", "Raison sociale", "Société", "Entreprise", "Company", "Company name", "Name"),
    "segment": ("Segment", "Type de client", "Customer type", "Catégorie client"),
    "date": ("Date", "Jour", "Day"),
    "comment": ("Commentaire", "Verbatim", "Remarque", "Comment", "Feedback"),
    "kind": ("Type", "Nature", "Catégorie", "Category"),
}
# fmt: on

# fmt: off
KIND_HEADER_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "external_id": ("ID client", "Customer ID", "Code client", "N° client", "Numéro client"),
        "acquired_at": (
            "Date d'acquisition", "Client depuis", "Date d'inscription", "Date de création", "Acquisition date",
            "Customer since", "Signup date",
        ),
        "churned_at": ("Date de résiliation", "Date de départ", "Perdu le", "Churn date", "Churned"),
        "acquisition_channel": ("Canal d'acquisition", "Source d'acquisition", "Origine", "Source"),
    },
    "leads": {
        "external_id": ("ID lead", "ID prospect", "Lead ID", "Contact ID"),
        "created_at": ("Date de création", "Date", "Create date"),
        "first_response_at": ("Première réponse", "Date de première réponse", "First response"),
        "qualified_at": ("Qualifié le", "Date de qualification", "Qualified date", "Became a lead date"),
        "converted_at": ("Converti le", "Date de conversion", "Became a customer date", "Conversion date"),
        "channel": ("Source", "Source du lead", "Source d'origine", "Original source", "Canal"),
    },
    "deals": {
        "external_id": ("ID de l'affaire", "ID de la transaction", "Deal ID", "N° d'opportunité"),
        "amount": ("Montant de la transaction", "Montant de l'affaire", "Deal amount", "Montant"),
        "stage": ("Étape", "Étape de la transaction", "Phase", "Stage", "Deal stage", "Pipeline stage"),
        "probability": ("Probabilité", "Probabilité (%)", "Probabilité de conclusion", "Probability"),
        "status": ("Statut de l'affaire", "Issue", "Résultat", "Outcome"),
    },
    "orders": {
        "external_id": (
            "N° de commande", "Numéro de commande", "N° commande", "Référence commande", "Commande", "Order ID",
            "Order number", "Order", "Référence", "Réf.", "ID de l'enregistrement", "Record ID",
        ),
        "ordered_at": (
            "Date de commande", "Date de la commande", "Commandé le", "Date", "Order date", "Date de création",
            "Created", "Create date",
        ),
        "status": ("Statut de la commande", "État de la commande", "Order status", "Statut", "État"),
        "is_upsell": ("Vente additionnelle", "Montée en gamme", "Upsell"),
        "is_cross_sell": ("Vente croisée", "Cross-sell", "Cross sell"),
    },
    "subscriptions": {
        "external_id": ("ID abonnement", "N° d'abonnement", "Subscription ID", "N° de contrat", "Contrat"),
        "started_at": ("Date de début", "Début", "Souscrit le", "Start date"),
        "renewal_due_at": ("Date de renouvellement", "Échéance", "Renewal date"),
        "renewed_at": ("Renouvelé le", "Date du dernier renouvellement", "Renewed"),
        "cancelled_at": ("Date de résiliation", "Résilié le", "Date d'annulation", "Cancellation date"),
        "recurring_amount": ("Montant récurrent", "Mensualité", "Abonnement mensuel", "MRR", "Montant", "Amount"),
    },
    "tickets": {
        "external_id": ("N° de ticket", "Numéro de ticket", "Ticket ID", "ID du ticket"),
        "created_at": ("Date d'ouverture", "Ouvert le", "Date de création", "Date", "Create date"),
        "first_response_at": ("Première réponse", "Date de première réponse", "First response", "First reply"),
        "resolved_at": ("Date de résolution", "Résolu le", "Fermé le", "Date de clôture", "Close date", "Closed"),
        "kind": ("Type de ticket", "Type", "Catégorie", "Nature", "Motif", "Ticket type"),
        "contact_count": ("Nombre de contacts", "Nombre d'échanges", "Échanges", "Contacts", "Replies"),
    },
    "survey-responses": {
        "external_id": ("ID réponse", "N° de réponse", "Response ID"),
        "survey": ("Enquête", "Questionnaire", "Type d'enquête", "Type", "Survey type"),
        "score": ("Note", "Score", "Rating"),
        "responded_at": ("Date de réponse", "Répondu le", "Date", "Submitted at", "Response date"),
        "touchpoint": ("Point de contact", "Parcours", "Touchpoint"),
    },
    "meetings": {
        "scheduled_at": ("Date du rendez-vous", "Date de la réunion", "Prévu le", "Date", "Meeting date"),
        "held": ("Tenu", "Tenue", "Réalisé", "Effectué", "Held", "Outcome"),
    },
    "campaigns": {
        "budget": ("Budget", "Budget prévu"),
        "started_at": ("Date de début", "Début", "Lancée le", "Start date"),
    },
    "campaign-stats": {
        "sent": ("Envoyés", "Envoyé", "Envois", "Sent"),
        "delivered": ("Délivrés", "Distribués", "Delivered"),
        "bounced": ("Rejetés", "Bounces", "Bounced", "Non distribués"),
        "opened": ("Ouverts", "Ouvertures", "Opens", "Opened"),
        "clicked": ("Cliqués", "Clics", "Clicks", "Clicked"),
        "unsubscribed": ("Désabonnés", "Désinscrits", "Désinscriptions", "Unsubscribes"),
        "conversions": ("Conversions", "Ventes"),
        "revenue": ("Chiffre d'affaires", "CA", "Revenus", "Revenue"),
    },
    "spend": {
        "category": ("Catégorie", "Type de dépense", "Poste", "Category"),
        "amount": ("Montant", "Coût", "Dépense", "Montant HT", "Montant TTC", "Cost", "Spend"),
    },
    "web-traffic": {
        "visits": ("Visites", "Sessions", "Visits"),
        "bounces": ("Rebonds", "Bounces"),
        "pageviews": ("Pages vues", "Pages consultées", "Page views", "Pageviews"),
        "total_time_s": ("Temps total (s)", "Durée totale (s)", "Total time (s)"),
        "source": ("Source", "Canal", "Origine"),
    },
    "interactions": {
        "kind": ("Type d'interaction", "Type", "Événement", "Event"),
        "occurred_at": ("Date", "Survenu le", "Date de l'interaction", "Occurred at", "Timestamp"),
    },
}
# fmt: on
