"""The canonical type taxonomy: one name per kind of secret, whatever engine found it.

Scanners map their native rule ids to these names (``Scanner.rule_types`` and the tables
here); findings, routing rules, allowlists and sinks only ever see canonical types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .models import Severity

__all__ = ["CANONICAL_TYPES", "TypeInfo", "canonical_type", "is_generic", "severity_of"]


@dataclass(frozen=True)
class TypeInfo:
    name: str
    severity: Severity
    title: str


def _t(name: str, severity: str, title: str) -> TypeInfo:
    return TypeInfo(name, Severity(severity), title)


CANONICAL_TYPES: dict[str, TypeInfo] = {
    t.name: t
    for t in [
        _t("aws-access-key-id", "critical", "AWS access key id"),
        _t("aws-secret-access-key", "critical", "AWS secret access key"),
        _t("aws-session-token", "high", "AWS session token"),
        _t("gcp-service-account-key", "critical", "Google Cloud service account key"),
        _t("gcp-api-key", "high", "Google API key"),
        _t("azure-storage-key", "critical", "Azure storage account key"),
        _t("azure-connection-string", "critical", "Azure connection string"),
        _t("azure-client-secret", "high", "Azure AD client secret"),
        _t("github-pat", "critical", "GitHub personal access token"),
        _t("github-fine-grained-pat", "critical", "GitHub fine-grained personal access token"),
        _t("github-oauth-token", "high", "GitHub OAuth token"),
        _t("github-app-token", "high", "GitHub App token"),
        _t("gitlab-pat", "critical", "GitLab personal access token"),
        _t("gitlab-token", "high", "GitLab token"),
        _t("bitbucket-token", "high", "Bitbucket token"),
        _t("atlassian-api-token", "high", "Atlassian API token"),
        _t("slack-token", "high", "Slack token"),
        _t("slack-webhook-url", "medium", "Slack incoming webhook URL"),
        _t("discord-token", "high", "Discord token"),
        _t("discord-webhook-url", "medium", "Discord webhook URL"),
        _t("teams-webhook-url", "medium", "Microsoft Teams webhook URL"),
        _t("telegram-bot-token", "high", "Telegram bot token"),
        _t("twilio-api-key", "high", "Twilio API key"),
        _t("sendgrid-api-key", "high", "SendGrid API key"),
        _t("mailgun-api-key", "high", "Mailgun API key"),
        _t("mailchimp-api-key", "high", "Mailchimp API key"),
        _t("stripe-secret-key", "critical", "Stripe secret key"),
        _t("stripe-restricted-key", "high", "Stripe restricted key"),
        _t("square-token", "high", "Square access token"),
        _t("paypal-braintree-token", "high", "PayPal/Braintree access token"),
        _t("shopify-token", "high", "Shopify access token"),
        _t("openai-api-key", "high", "OpenAI API key"),
        _t("anthropic-api-key", "high", "Anthropic API key"),
        _t("huggingface-token", "high", "Hugging Face token"),
        _t("npm-token", "high", "npm access token"),
        _t("pypi-token", "high", "PyPI upload token"),
        _t("docker-registry-token", "high", "Docker registry token"),
        _t("heroku-api-key", "high", "Heroku API key"),
        _t("digitalocean-token", "high", "DigitalOcean token"),
        _t("datadog-api-key", "medium", "Datadog API key"),
        _t("newrelic-key", "medium", "New Relic key"),
        _t("sentry-token", "medium", "Sentry token"),
        _t("pagerduty-token", "medium", "PagerDuty token"),
        _t("okta-token", "high", "Okta API token"),
        _t("hashicorp-vault-token", "critical", "HashiCorp Vault token"),
        _t("terraform-cloud-token", "high", "Terraform Cloud token"),
        _t("private-key", "critical", "Private key"),
        _t("jwt", "medium", "JSON Web Token"),
        _t("database-connection-string", "critical", "Database connection string with password"),
        _t("url-credentials", "high", "Credentials in a URL"),
        _t("authorization-header", "high", "Authorization header credential"),
        _t("basic-auth", "high", "HTTP basic auth credential"),
        _t("generic-password", "medium", "Password"),
        _t("generic-api-key", "medium", "API key or secret"),
        _t("generic-high-entropy", "low", "High-entropy string"),
        _t("other", "medium", "Other credential"),
    ]
}

GENERIC_TYPES = frozenset(
    {"generic-password", "generic-api-key", "generic-high-entropy", "other"}
)

# Keyword rules: the first pattern that matches a native rule id (lower-cased) wins.
_KEYWORD_RULES: list[tuple[str, str]] = [
    (r"aws.*(secret|sk)\b|aws-secret|awssecret", "aws-secret-access-key"),
    (r"aws.*session", "aws-session-token"),
    (r"\baws|amazon|akia", "aws-access-key-id"),
    (r"gcp.*(service|sa\b)|google.*service|gcp-service", "gcp-service-account-key"),
    (r"gcp|google|firebase", "gcp-api-key"),
    (r"azure.*(conn|storage)|azure-storage", "azure-storage-key"),
    (r"azure|microsoft.?entra", "azure-client-secret"),
    (r"github.*fine|github_pat", "github-fine-grained-pat"),
    (r"github.*oauth|gho_", "github-oauth-token"),
    (r"github.*app|github.*(refresh|server)|ghs_|ghu_", "github-app-token"),
    (r"github", "github-pat"),
    (r"gitlab.*pat|glpat", "gitlab-pat"),
    (r"gitlab", "gitlab-token"),
    (r"bitbucket", "bitbucket-token"),
    (r"atlassian|jira|confluence", "atlassian-api-token"),
    (r"slack.*webhook", "slack-webhook-url"),
    (r"slack", "slack-token"),
    (r"discord.*webhook", "discord-webhook-url"),
    (r"discord", "discord-token"),
    (r"teams.*webhook|microsoft.*teams", "teams-webhook-url"),
    (r"telegram", "telegram-bot-token"),
    (r"twilio", "twilio-api-key"),
    (r"sendgrid", "sendgrid-api-key"),
    (r"mailgun", "mailgun-api-key"),
    (r"mailchimp", "mailchimp-api-key"),
    (r"stripe.*(restricted|rk_)", "stripe-restricted-key"),
    (r"stripe", "stripe-secret-key"),
    (r"square", "square-token"),
    (r"paypal|braintree", "paypal-braintree-token"),
    (r"shopify", "shopify-token"),
    (r"openai", "openai-api-key"),
    (r"anthropic|claude", "anthropic-api-key"),
    (r"hugging", "huggingface-token"),
    (r"\bnpm", "npm-token"),
    (r"pypi", "pypi-token"),
    (r"docker", "docker-registry-token"),
    (r"heroku", "heroku-api-key"),
    (r"digitalocean", "digitalocean-token"),
    (r"datadog", "datadog-api-key"),
    (r"new.?relic", "newrelic-key"),
    (r"sentry", "sentry-token"),
    (r"pagerduty", "pagerduty-token"),
    (r"okta", "okta-token"),
    (r"vault", "hashicorp-vault-token"),
    (r"terraform", "terraform-cloud-token"),
    (r"private.?key|privatekey|\bpem\b|ssh.*key|rsa|pgp", "private-key"),
    (r"jwt|json.?web", "jwt"),
    (r"postgres|mysql|mongo|redis|jdbc|sqlserver|mssql|database|connection.?string|\buri\b",
     "database-connection-string"),
    (r"basic.?auth", "basic-auth"),
    (r"url|uri.*cred", "url-credentials"),
    (r"authorization|bearer", "authorization-header"),
    (r"password|passwd|pwd|keyword", "generic-password"),
    (r"entropy|base64|hex", "generic-high-entropy"),
    (r"generic|api.?key|secret|token|credential", "generic-api-key"),
]
_COMPILED = [(re.compile(p), t) for p, t in _KEYWORD_RULES]


def canonical_type(rule_id: str, explicit: dict[str, str] | None = None) -> str | None:
    """The canonical type for a native rule id, or None if nothing maps it."""
    if explicit and rule_id in explicit:
        return explicit[rule_id]
    lowered = rule_id.lower()
    if lowered in CANONICAL_TYPES:
        return lowered
    for pattern, name in _COMPILED:
        if pattern.search(lowered):
            return name
    return None


def is_generic(type_name: str) -> bool:
    return type_name in GENERIC_TYPES


def severity_of(type_name: str) -> Severity:
    info = CANONICAL_TYPES.get(type_name)
    return info.severity if info else Severity.MEDIUM
