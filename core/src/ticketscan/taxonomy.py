"""The canonical type taxonomy: one name per kind of secret, whatever engine found it.

Scanners map their native rule ids to these names (``Scanner.rule_types`` and the tables
here); findings, routing rules, allowlists and sinks only ever see canonical types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .models import Severity

__all__ = [
    "CANONICAL_TYPES",
    "DETECT_SECRETS_PLUGINS",
    "GITLEAKS_RULES",
    "KINGFISHER_RULES",
    "TRUFFLEHOG_DETECTORS",
    "KingfisherRules",
    "TypeInfo",
    "canonical_type",
    "is_generic",
    "severity_of",
]


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
        _t("aws-bedrock-api-key", "high", "Amazon Bedrock API key"),
        _t("cloud-api-key", "high", "Other cloud provider key (Alibaba, Yandex, Cloudflare)"),
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
        _t("artifactory-token", "high", "JFrog Artifactory token"),
        _t("kubernetes-secret", "high", "Kubernetes/OpenShift secret or token"),
        _t("saas-api-key", "medium", "Third-party service API key or token (vendor-specific rule)"),
        _t("client-id", "low", "OAuth/app client id or account id (not secret on its own)"),
        _t("publishable-key", "low", "Publishable/public API key (meant to be public)"),
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


def canonical_type(rule_id: str, explicit: Mapping[str, str] | None = None) -> str | None:
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


# ---------------------------------------------------------------------------------------------
# Explicit tables per engine (preferred over the keyword rules above; a test fails on a gap)

#: Every rule id of the gitleaks default config (v8.30.1, identical to the binary's embedded one).
GITLEAKS_RULES: dict[str, str] = {
    "1password-secret-key": "saas-api-key",
    "1password-service-account-token": "saas-api-key",
    "adafruit-api-key": "saas-api-key",
    "adobe-client-id": "client-id",
    "adobe-client-secret": "saas-api-key",
    "age-secret-key": "private-key",
    "airtable-api-key": "saas-api-key",
    "airtable-personnal-access-token": "saas-api-key",
    "algolia-api-key": "saas-api-key",
    "alibaba-access-key-id": "cloud-api-key",
    "alibaba-secret-key": "cloud-api-key",
    "anthropic-admin-api-key": "anthropic-api-key",
    "anthropic-api-key": "anthropic-api-key",
    "artifactory-api-key": "artifactory-token",
    "artifactory-reference-token": "artifactory-token",
    "asana-client-id": "client-id",
    "asana-client-secret": "saas-api-key",
    "atlassian-api-token": "atlassian-api-token",
    "authress-service-client-access-key": "saas-api-key",
    "aws-access-token": "aws-access-key-id",
    "aws-amazon-bedrock-api-key-long-lived": "aws-bedrock-api-key",
    "aws-amazon-bedrock-api-key-short-lived": "aws-bedrock-api-key",
    "azure-ad-client-secret": "azure-client-secret",
    "beamer-api-token": "saas-api-key",
    "bitbucket-client-id": "client-id",
    "bitbucket-client-secret": "bitbucket-token",
    "bittrex-access-key": "saas-api-key",
    "bittrex-secret-key": "saas-api-key",
    "cisco-meraki-api-key": "saas-api-key",
    "clickhouse-cloud-api-secret-key": "saas-api-key",
    "clojars-api-token": "saas-api-key",
    "cloudflare-api-key": "cloud-api-key",
    "cloudflare-global-api-key": "cloud-api-key",
    "cloudflare-origin-ca-key": "cloud-api-key",
    "codecov-access-token": "saas-api-key",
    "cohere-api-token": "saas-api-key",
    "coinbase-access-token": "saas-api-key",
    "confluent-access-token": "saas-api-key",
    "confluent-secret-key": "saas-api-key",
    "contentful-delivery-api-token": "saas-api-key",
    "curl-auth-header": "authorization-header",
    "curl-auth-user": "basic-auth",
    "databricks-api-token": "saas-api-key",
    "datadog-access-token": "datadog-api-key",
    "defined-networking-api-token": "saas-api-key",
    "digitalocean-access-token": "digitalocean-token",
    "digitalocean-pat": "digitalocean-token",
    "digitalocean-refresh-token": "digitalocean-token",
    "discord-api-token": "discord-token",
    "discord-client-id": "client-id",
    "discord-client-secret": "discord-token",
    "doppler-api-token": "saas-api-key",
    "droneci-access-token": "saas-api-key",
    "dropbox-api-token": "saas-api-key",
    "dropbox-long-lived-api-token": "saas-api-key",
    "dropbox-short-lived-api-token": "saas-api-key",
    "duffel-api-token": "saas-api-key",
    "dynatrace-api-token": "saas-api-key",
    "easypost-api-token": "saas-api-key",
    "easypost-test-api-token": "saas-api-key",
    "etsy-access-token": "saas-api-key",
    "facebook-access-token": "saas-api-key",
    "facebook-page-access-token": "saas-api-key",
    "facebook-secret": "saas-api-key",
    "fastly-api-token": "saas-api-key",
    "finicity-api-token": "saas-api-key",
    "finicity-client-secret": "saas-api-key",
    "finnhub-access-token": "saas-api-key",
    "flickr-access-token": "saas-api-key",
    "flutterwave-encryption-key": "saas-api-key",
    "flutterwave-public-key": "publishable-key",
    "flutterwave-secret-key": "saas-api-key",
    "flyio-access-token": "saas-api-key",
    "frameio-api-token": "saas-api-key",
    "freemius-secret-key": "saas-api-key",
    "freshbooks-access-token": "saas-api-key",
    "gcp-api-key": "gcp-api-key",
    "generic-api-key": "generic-api-key",
    "github-app-token": "github-app-token",
    "github-fine-grained-pat": "github-fine-grained-pat",
    "github-oauth": "github-oauth-token",
    "github-pat": "github-pat",
    "github-refresh-token": "github-app-token",
    "gitlab-cicd-job-token": "gitlab-token",
    "gitlab-deploy-token": "gitlab-token",
    "gitlab-feature-flag-client-token": "gitlab-token",
    "gitlab-feed-token": "gitlab-token",
    "gitlab-incoming-mail-token": "gitlab-token",
    "gitlab-kubernetes-agent-token": "gitlab-token",
    "gitlab-oauth-app-secret": "gitlab-token",
    "gitlab-pat": "gitlab-pat",
    "gitlab-pat-routable": "gitlab-pat",
    "gitlab-ptt": "gitlab-token",
    "gitlab-rrt": "gitlab-token",
    "gitlab-runner-authentication-token": "gitlab-token",
    "gitlab-runner-authentication-token-routable": "gitlab-token",
    "gitlab-scim-token": "gitlab-token",
    "gitlab-session-cookie": "gitlab-token",
    "gitter-access-token": "saas-api-key",
    "gocardless-api-token": "saas-api-key",
    "grafana-api-key": "saas-api-key",
    "grafana-cloud-api-token": "saas-api-key",
    "grafana-service-account-token": "saas-api-key",
    "harness-api-key": "saas-api-key",
    "hashicorp-tf-api-token": "terraform-cloud-token",
    "hashicorp-tf-password": "generic-password",
    "heroku-api-key": "heroku-api-key",
    "heroku-api-key-v2": "heroku-api-key",
    "hubspot-api-key": "saas-api-key",
    "huggingface-access-token": "huggingface-token",
    "huggingface-organization-api-token": "huggingface-token",
    "infracost-api-token": "saas-api-key",
    "intercom-api-key": "saas-api-key",
    "intra42-client-secret": "saas-api-key",
    "jfrog-api-key": "artifactory-token",
    "jfrog-identity-token": "artifactory-token",
    "jwt": "jwt",
    "jwt-base64": "jwt",
    "kraken-access-token": "saas-api-key",
    "kubernetes-secret-yaml": "kubernetes-secret",
    "kucoin-access-token": "saas-api-key",
    "kucoin-secret-key": "saas-api-key",
    "launchdarkly-access-token": "saas-api-key",
    "linear-api-key": "saas-api-key",
    "linear-client-secret": "saas-api-key",
    "linkedin-client-id": "client-id",
    "linkedin-client-secret": "saas-api-key",
    "lob-api-key": "saas-api-key",
    "lob-pub-api-key": "publishable-key",
    "looker-client-id": "client-id",
    "looker-client-secret": "saas-api-key",
    "mailchimp-api-key": "mailchimp-api-key",
    "mailgun-private-api-token": "mailgun-api-key",
    "mailgun-pub-key": "publishable-key",
    "mailgun-signing-key": "mailgun-api-key",
    "mapbox-api-token": "saas-api-key",
    "mattermost-access-token": "saas-api-key",
    "maxmind-license-key": "saas-api-key",
    "messagebird-api-token": "saas-api-key",
    "messagebird-client-id": "client-id",
    "microsoft-teams-webhook": "teams-webhook-url",
    "netlify-access-token": "saas-api-key",
    "new-relic-browser-api-token": "newrelic-key",
    "new-relic-insert-key": "newrelic-key",
    "new-relic-user-api-id": "client-id",
    "new-relic-user-api-key": "newrelic-key",
    "notion-api-token": "saas-api-key",
    "npm-access-token": "npm-token",
    "nuget-config-password": "generic-password",
    "nytimes-access-token": "saas-api-key",
    "octopus-deploy-api-key": "saas-api-key",
    "okta-access-token": "okta-token",
    "openai-api-key": "openai-api-key",
    "openshift-user-token": "kubernetes-secret",
    "perplexity-api-key": "saas-api-key",
    "pkcs12-file": "private-key",
    "plaid-api-token": "saas-api-key",
    "plaid-client-id": "client-id",
    "plaid-secret-key": "saas-api-key",
    "planetscale-api-token": "saas-api-key",
    "planetscale-oauth-token": "saas-api-key",
    "planetscale-password": "generic-password",
    "postman-api-token": "saas-api-key",
    "prefect-api-token": "saas-api-key",
    "private-key": "private-key",
    "privateai-api-token": "saas-api-key",
    "pulumi-api-token": "saas-api-key",
    "pypi-upload-token": "pypi-token",
    "rapidapi-access-token": "saas-api-key",
    "readme-api-token": "saas-api-key",
    "rubygems-api-token": "saas-api-key",
    "scalingo-api-token": "saas-api-key",
    "sendbird-access-id": "client-id",
    "sendbird-access-token": "saas-api-key",
    "sendgrid-api-token": "sendgrid-api-key",
    "sendinblue-api-token": "saas-api-key",
    "sentry-access-token": "sentry-token",
    "sentry-org-token": "sentry-token",
    "sentry-user-token": "sentry-token",
    "settlemint-application-access-token": "saas-api-key",
    "settlemint-personal-access-token": "saas-api-key",
    "settlemint-service-access-token": "saas-api-key",
    "shippo-api-token": "saas-api-key",
    "shopify-access-token": "shopify-token",
    "shopify-custom-access-token": "shopify-token",
    "shopify-private-app-access-token": "shopify-token",
    "shopify-shared-secret": "shopify-token",
    "sidekiq-secret": "saas-api-key",
    "sidekiq-sensitive-url": "url-credentials",
    "slack-app-token": "slack-token",
    "slack-bot-token": "slack-token",
    "slack-config-access-token": "slack-token",
    "slack-config-refresh-token": "slack-token",
    "slack-legacy-bot-token": "slack-token",
    "slack-legacy-token": "slack-token",
    "slack-legacy-workspace-token": "slack-token",
    "slack-user-token": "slack-token",
    "slack-webhook-url": "slack-webhook-url",
    "snyk-api-token": "saas-api-key",
    "sonar-api-token": "saas-api-key",
    "sourcegraph-access-token": "saas-api-key",
    "square-access-token": "square-token",
    "squarespace-access-token": "saas-api-key",
    "stripe-access-token": "stripe-secret-key",
    "sumologic-access-id": "client-id",
    "sumologic-access-token": "saas-api-key",
    "telegram-bot-api-token": "telegram-bot-token",
    "travisci-access-token": "saas-api-key",
    "twilio-api-key": "twilio-api-key",
    "twitch-api-token": "saas-api-key",
    "twitter-access-secret": "saas-api-key",
    "twitter-access-token": "saas-api-key",
    "twitter-api-key": "saas-api-key",
    "twitter-api-secret": "saas-api-key",
    "twitter-bearer-token": "saas-api-key",
    "typeform-api-token": "saas-api-key",
    "vault-batch-token": "hashicorp-vault-token",
    "vault-service-token": "hashicorp-vault-token",
    "yandex-access-token": "cloud-api-key",
    "yandex-api-key": "cloud-api-key",
    "yandex-aws-access-token": "cloud-api-key",
    "zendesk-secret-key": "saas-api-key",
}


#: trufflehog v3 ``DetectorName`` values: every one in the reference samples, and the common ones.
TRUFFLEHOG_DETECTORS: dict[str, str] = {
    "AWS": "aws-access-key-id",
    "AWSSessionKey": "aws-session-token",
    "Anthropic": "anthropic-api-key",
    "Artifactory": "artifactory-token",
    "AzureStorage": "azure-storage-key",
    "Azure": "azure-client-secret",
    "AzureBatch": "azure-storage-key",
    "AzureContainerRegistry": "azure-client-secret",
    "AzureEntraID": "azure-client-secret",
    "Bitbucket": "bitbucket-token",
    "CustomRegex": "other",
    "DatadogToken": "datadog-api-key",
    "DigitalOceanToken": "digitalocean-token",
    "DigitalOceanV2": "digitalocean-token",
    "Discord": "discord-token",
    "DiscordWebhook": "discord-webhook-url",
    "DockerHub": "docker-registry-token",
    "Dockerhub": "docker-registry-token",
    "FTP": "url-credentials",
    "GCP": "gcp-service-account-key",
    "GCPApplicationDefaultCredentials": "gcp-service-account-key",
    "GitHub": "github-pat",
    "Github": "github-pat",
    "GitHubApp": "github-app-token",
    "GitHubOauth2": "github-oauth-token",
    "GitLab": "gitlab-pat",
    "Gitlab": "gitlab-pat",
    "GitLabV2": "gitlab-pat",
    "GoogleApiKey": "gcp-api-key",
    "GoogleOauth2": "gcp-api-key",
    "Heroku": "heroku-api-key",
    "HuggingFace": "huggingface-token",
    "JDBC": "database-connection-string",
    "JiraToken": "atlassian-api-token",
    "JiraTokenV2": "atlassian-api-token",
    "JWT": "jwt",
    "LDAP": "url-credentials",
    "Mailchimp": "mailchimp-api-key",
    "Mailgun": "mailgun-api-key",
    "MicrosoftTeamsWebhook": "teams-webhook-url",
    "MongoDB": "database-connection-string",
    "NpmToken": "npm-token",
    "NpmTokenV2": "npm-token",
    "NewRelicPersonalApiKey": "newrelic-key",
    "Okta": "okta-token",
    "OpenAI": "openai-api-key",
    "PagerDutyApiKey": "pagerduty-token",
    "PayPalOauth": "paypal-braintree-token",
    "Postgres": "database-connection-string",
    "PrivateKey": "private-key",
    "PyPI": "pypi-token",
    "Redis": "database-connection-string",
    "SQLServer": "database-connection-string",
    "SendGrid": "sendgrid-api-key",
    "Sentry": "sentry-token",
    "SentryToken": "sentry-token",
    "Shopify": "shopify-token",
    "Slack": "slack-token",
    "SlackWebhook": "slack-webhook-url",
    "Square": "square-token",
    "SquareApp": "square-token",
    "Stripe": "stripe-secret-key",
    "TelegramBotToken": "telegram-bot-token",
    "TerraformCloudPersonalToken": "terraform-cloud-token",
    "Twilio": "twilio-api-key",
    "TwilioApiKey": "twilio-api-key",
    "URI": "url-credentials",
    "VaultAuth": "hashicorp-vault-token",
}

#: detect-secrets 1.5 plugin secret types (``secret_type`` of every built-in plugin).
DETECT_SECRETS_PLUGINS: dict[str, str] = {
    "AWS Access Key": "aws-access-key-id",
    "Artifactory Credentials": "artifactory-token",
    "Azure Storage Account access key": "azure-storage-key",
    "Base64 High Entropy String": "generic-high-entropy",
    "Basic Auth Credentials": "url-credentials",
    "Cloudant Credentials": "url-credentials",
    "Discord Bot Token": "discord-token",
    "GitHub Token": "github-pat",
    "GitLab Token": "gitlab-pat",
    "Hex High Entropy String": "generic-high-entropy",
    "IBM COS HMAC Credentials": "cloud-api-key",
    "IBM Cloud IAM Key": "cloud-api-key",
    "JSON Web Token": "jwt",
    "Mailchimp Access Key": "mailchimp-api-key",
    "NPM tokens": "npm-token",
    "OpenAI Token": "openai-api-key",
    "Private Key": "private-key",
    "Public IP (ipv4)": "other",
    "PyPI Token": "pypi-token",
    "Secret Keyword": "generic-password",
    "SendGrid API Key": "sendgrid-api-key",
    "Slack Token": "slack-token",
    "SoftLayer Credentials": "cloud-api-key",
    "Square OAuth Secret": "square-token",
    "Stripe Access Key": "stripe-secret-key",
    "Telegram Bot Token": "telegram-bot-token",
    "Twilio API Key": "twilio-api-key",
}

#: Kingfisher rule ids that are not a ``betterleaks.<gitleaks id>`` (those map via GITLEAKS_RULES).
KINGFISHER_RULES: dict[str, str] = {
    "betterleaks.aws-secret-access-key": "aws-secret-access-key",
    "betterleaks.aws-session-token": "aws-session-token",
    "betterleaks.azure-storage-account-key": "azure-storage-key",
    "betterleaks.azure-app-configuration-connection-string": "azure-connection-string",
    "betterleaks.azure-servicebus-connection-string": "azure-connection-string",
    "betterleaks.azure-client-id": "client-id",
    "betterleaks.azure-tenant-id": "client-id",
    "betterleaks.azure-storage-account-name": "client-id",
    "betterleaks.gcp-service-account": "gcp-service-account-key",
    "betterleaks.gcp-application-default-credentials": "gcp-service-account-key",
    "betterleaks.gcp-gemini-api": "gcp-api-key",
    "betterleaks.generic-credential-uri": "url-credentials",
    "betterleaks.mongodb-connection-string": "database-connection-string",
    "betterleaks.datadog-api-key": "datadog-api-key",
    "betterleaks.datadog-application-key": "datadog-api-key",
    "betterleaks.dockerhub-personal-access-token": "docker-registry-token",
    "betterleaks.dockerhub-organization-access-token": "docker-registry-token",
    "betterleaks.slack-session-cookie": "slack-token",
    "betterleaks.slack-session-token": "slack-token",
    "betterleaks.bitbucket-data-center-token": "bitbucket-token",
    "betterleaks.gitlab-incoming-mail-address-token": "gitlab-token",
    "betterleaks.gitlab-pat-routable-versioned": "gitlab-pat",
    "betterleaks.pagerduty-authorization-token": "pagerduty-token",
    "betterleaks.paypal-client-secret": "paypal-braintree-token",
    "betterleaks.paypal-client-id": "client-id",
    "betterleaks.alibaba-sts-access-key-id": "cloud-api-key",
    "betterleaks.alibaba-sts-access-key-secret": "cloud-api-key",
    "betterleaks.alibaba-sts-security-token": "cloud-api-key",
    "betterleaks.artifactory-jfrog-url": "client-id",
    "veles.secrets/bitbucketcredentials": "bitbucket-token",
    "veles.secrets/digitaloceanapikey": "digitalocean-token",
    "veles.secrets/herokuplatformkey": "heroku-api-key",
    "veles.secrets/npmjsaccesstoken": "npm-token",
    "veles.secrets/sendgrid": "sendgrid-api-key",
    "veles.secrets/slackappconfigaccesstoken": "slack-token",
    "veles.secrets/slackappconfigrefreshtoken": "slack-token",
    "veles.secrets/slackappleveltoken": "slack-token",
    "veles.secrets/codecatalystcredentials": "url-credentials",
    "veles.secrets/codecommitcredentials": "url-credentials",
    "veles.secrets/cloudflareapitoken": "cloud-api-key",
}

_IDENTIFIER = re.compile(
    r"(client|app|account|access|key)-id$|-(id|username|user-name|domain|host|url|name|address"
    r"|instance-url|account-host|project-url|cloud-name)$|public-key|publishable|pub-"
)


def _vendor_rule_type(rule: str) -> str:
    """Last resort for a vendor-specific rule id: an identifier, a known vendor, else SaaS key."""
    if _IDENTIFIER.search(rule):
        return "publishable-key" if "pub" in rule else "client-id"
    guess = canonical_type(rule)
    if guess is None or guess in ("generic-api-key", "generic-high-entropy"):
        return "saas-api-key"
    return guess


class KingfisherRules(Mapping[str, str]):
    """Kingfisher's rule ids: ``betterleaks.<gitleaks id>[.N]`` maps through the gitleaks table,
    the rest through ``KINGFISHER_RULES``; any other vendor rule through ``_vendor_rule_type``.

    Iteration lists the explicit ids only; lookup answers for every id Kingfisher can report.
    """

    def explicit(self, rule_id: str) -> str | None:
        if rule_id in KINGFISHER_RULES:
            return KINGFISHER_RULES[rule_id]
        base = re.sub(r"\.\d+$", "", rule_id)
        if base in KINGFISHER_RULES:
            return KINGFISHER_RULES[base]
        if base.startswith("betterleaks."):
            return GITLEAKS_RULES.get(base[len("betterleaks."):])
        return None

    def __getitem__(self, rule_id: str) -> str:
        found = self.explicit(rule_id)
        if found is not None:
            return found
        if rule_id.startswith(("betterleaks.", "veles.", "kingfisher.")):
            return _vendor_rule_type(re.sub(r"\.\d+$", "", rule_id.split(".", 1)[1]).split("/")[-1])
        raise KeyError(rule_id)

    def __contains__(self, rule_id: object) -> bool:
        if not isinstance(rule_id, str):
            return False
        try:
            self[rule_id]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        yield from KINGFISHER_RULES
        for rule in GITLEAKS_RULES:
            yield f"betterleaks.{rule}"

    def __len__(self) -> int:
        return len(KINGFISHER_RULES) + len(GITLEAKS_RULES)
