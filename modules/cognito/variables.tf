variable "name" {
  description = "Name of the user pool; with a null domain_prefix it also starts the domain prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$", var.name)) && !can(regex("aws|amazon|cognito", var.name))
    error_message = "name must be 1-40 lower-case letters, digits or inner hyphens, without aws, amazon or cognito (it starts the Cognito domain prefix)."
  }
}

variable "domain_prefix" {
  description = "Prefix of the sign-in domain (https://<prefix>.auth.<region>.amazoncognito.com). Null: <name>-<12 hex chars derived from the pool id>, unique per pool."
  type        = string
  default     = null

  validation {
    condition     = var.domain_prefix == null || (can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.domain_prefix)) && !can(regex("aws|amazon|cognito", var.domain_prefix)))
    error_message = "domain_prefix must be 1-63 lower-case letters, digits or inner hyphens, and may not contain aws, amazon or cognito."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the user pool (and its users) until this is switched off."
  type        = bool
  default     = true
}

variable "self_sign_up" {
  description = "Let anyone create an account from the sign-in page. Off: only administrators create users."
  type        = bool
  default     = false
}

variable "mfa_configuration" {
  description = "Multi-factor sign-in: OFF, OPTIONAL (users may enrol a TOTP app) or ON (required)."
  type        = string
  default     = "OPTIONAL"

  validation {
    condition     = contains(["OFF", "OPTIONAL", "ON"], var.mfa_configuration)
    error_message = "mfa_configuration must be OFF, OPTIONAL or ON."
  }
}

variable "password_policy" {
  description = "Password rules for users of the pool."
  type = object({
    minimum_length                   = optional(number, 12)
    require_lowercase                = optional(bool, true)
    require_uppercase                = optional(bool, true)
    require_numbers                  = optional(bool, true)
    require_symbols                  = optional(bool, true)
    temporary_password_validity_days = optional(number, 7)
  })
  default = {}

  validation {
    condition     = var.password_policy.minimum_length >= 8 && var.password_policy.minimum_length <= 99
    error_message = "password_policy.minimum_length must be between 8 and 99 (Cognito allows 6; fewer than 8 is not a sound policy)."
  }
  validation {
    condition     = var.password_policy.temporary_password_validity_days >= 1 && var.password_policy.temporary_password_validity_days <= 365
    error_message = "password_policy.temporary_password_validity_days must be between 1 and 365."
  }
}

variable "resource_servers" {
  description = "OAuth resource servers keyed by identifier (scopes are then <identifier>/<scope>): a display name and scope descriptions by scope name."
  type = map(object({
    name   = string
    scopes = map(string)
  }))
  default = {}

  # Each rule lists what breaks it, and the message names it: with several entries, "an entry
  # is wrong" would leave the reader to guess which. (The clients rules do the same.)
  validation {
    condition     = length([for id in keys(var.resource_servers) : id if !can(regex("^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,256}$", id))]) == 0
    error_message = "${join(", ", formatlist("resource_servers[%q]", [for id in keys(var.resource_servers) : id if !can(regex("^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,256}$", id))]))}: identifiers must be 1-256 printable characters without spaces, quotes or backslashes."
  }
  validation {
    condition     = length(flatten([for id, rs in var.resource_servers : [for s in keys(rs.scopes) : s if !can(regex("^[\\x21\\x23-\\x2E\\x30-\\x5B\\x5D-\\x7E]{1,256}$", s))]])) == 0
    error_message = "${join(", ", flatten([for id, rs in var.resource_servers : formatlist("resource_servers[%q] scope %q", id, [for s in keys(rs.scopes) : s if !can(regex("^[\\x21\\x23-\\x2E\\x30-\\x5B\\x5D-\\x7E]{1,256}$", s))])]))}: scope names must be 1-256 printable characters without spaces, quotes, slashes or backslashes."
  }
  validation {
    condition     = length([for id, rs in var.resource_servers : id if length(rs.scopes) < 1 || length(rs.scopes) > 100]) == 0
    error_message = "${join(", ", formatlist("resource_servers[%q]", [for id, rs in var.resource_servers : id if length(rs.scopes) < 1 || length(rs.scopes) > 100]))}: each resource server needs 1 to 100 scopes."
  }
}

variable "clients" {
  description = <<-EOT
    App clients keyed by name. kind decides the OAuth flow and the secret:
      web     - confidential, authorization code grant, with a secret (a server-side web app);
      spa     - public, authorization code with PKCE, no secret (a browser or mobile app);
      machine - client_credentials grant, with a secret, resource-server scopes only.
    scopes: OAuth scopes the client may ask for (openid, email, phone, profile,
    aws.cognito.signin.user.admin, or <resource server>/<scope>). Token lifetimes in minutes.
    supported_identity_providers: COGNITO (the pool's own users) and/or keys of identity_providers.
  EOT
  type = map(object({
    kind                           = string
    scopes                         = list(string)
    callback_urls                  = optional(list(string), [])
    logout_urls                    = optional(list(string), [])
    generate_secret                = optional(bool)
    supported_identity_providers   = optional(list(string), ["COGNITO"])
    access_token_validity_minutes  = optional(number, 60)
    id_token_validity_minutes      = optional(number, 60)
    refresh_token_validity_minutes = optional(number, 43200)
  }))
  default = {}

  # As for resource_servers, each message names the clients (or URLs) that break the rule.
  validation {
    condition     = length([for name, c in var.clients : name if !contains(["web", "spa", "machine"], c.kind)]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if !contains(["web", "spa", "machine"], c.kind)]))}: kind must be web, spa or machine."
  }

  validation {
    condition     = length([for name, c in var.clients : name if length(c.scopes) == 0]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if length(c.scopes) == 0]))}: a client needs at least one OAuth scope (with none it can obtain no token)."
  }

  validation {
    condition     = length([for name, c in var.clients : name if c.kind == "machine" && c.generate_secret == false]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if c.kind == "machine" && c.generate_secret == false]))}: a machine (client_credentials) client must have a secret; leave generate_secret unset or true."
  }

  validation {
    condition     = length([for name, c in var.clients : name if c.kind == "spa" && c.generate_secret == true]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if c.kind == "spa" && c.generate_secret == true]))}: a spa (public PKCE) client has no secret, since a browser cannot keep one; leave generate_secret unset or false."
  }

  validation {
    condition     = length([for name, c in var.clients : name if c.kind == "machine" && anytrue([for s in c.scopes : !strcontains(s, "/")])]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if c.kind == "machine" && anytrue([for s in c.scopes : !strcontains(s, "/")])]))}: a machine (client_credentials) client may only ask for resource-server scopes, <identifier>/<scope>."
  }

  validation {
    condition     = length([for name, c in var.clients : name if c.kind != "machine" && length(c.callback_urls) == 0]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if c.kind != "machine" && length(c.callback_urls) == 0]))}: web and spa clients need at least one callback URL."
  }

  validation {
    condition     = length([for name, c in var.clients : name if c.kind == "machine" && length(concat(c.callback_urls, c.logout_urls)) > 0]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if c.kind == "machine" && length(concat(c.callback_urls, c.logout_urls)) > 0]))}: a machine client signs no user in, so it takes no callback or logout URLs."
  }

  validation {
    condition     = length(flatten([for name, c in var.clients : [for url in concat(c.callback_urls, c.logout_urls) : format("clients[%q] %s", name, url) if !(can(regex(local.redirect_url_pattern, url)) || (c.kind == "spa" && can(regex(local.native_app_url_pattern, url)) && !contains(local.not_native_schemes, lower(split(":", url)[0]))))]])) == 0
    error_message = "${join(", ", flatten([for name, c in var.clients : [for url in concat(c.callback_urls, c.logout_urls) : format("clients[%q] %s", name, url) if !(can(regex(local.redirect_url_pattern, url)) || (c.kind == "spa" && can(regex(local.native_app_url_pattern, url)) && !contains(local.not_native_schemes, lower(split(":", url)[0]))))]]))}: callback and logout URLs must be https://, or http://localhost for development, with no fragment; spa clients may also use a native app's own scheme (myapp://callback)."
  }

  validation {
    condition     = length([for name, c in var.clients : name if length(c.supported_identity_providers) == 0]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if length(c.supported_identity_providers) == 0]))}: supported_identity_providers must name at least one provider (COGNITO for the pool's own users)."
  }

  validation {
    condition     = length([for name, c in var.clients : name if c.access_token_validity_minutes < 5 || c.access_token_validity_minutes > 1440 || c.id_token_validity_minutes < 5 || c.id_token_validity_minutes > 1440]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if c.access_token_validity_minutes < 5 || c.access_token_validity_minutes > 1440 || c.id_token_validity_minutes < 5 || c.id_token_validity_minutes > 1440]))}: access and ID token validity must be between 5 and 1440 minutes (5 minutes to 1 day)."
  }

  validation {
    condition     = length([for name, c in var.clients : name if c.refresh_token_validity_minutes < 60 || c.refresh_token_validity_minutes > 5256000]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if c.refresh_token_validity_minutes < 60 || c.refresh_token_validity_minutes > 5256000]))}: refresh token validity must be between 60 and 5256000 minutes (1 hour to 10 years)."
  }

  validation {
    condition     = length([for name, c in var.clients : name if !can(regex("^[\\w\\s+=,.@-]{1,128}$", name))]) == 0
    error_message = "${join(", ", formatlist("clients[%q]", [for name, c in var.clients : name if !can(regex("^[\\w\\s+=,.@-]{1,128}$", name))]))}: client names must be 1-128 letters, digits, spaces or + = , . @ - _."
  }
}

variable "demo_user_email" {
  description = "When set, a user with this email is created (no message sent, no password: set one with admin-set-user-password)."
  type        = string
  default     = null

  validation {
    condition     = var.demo_user_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.demo_user_email))
    error_message = "demo_user_email must be an email address."
  }
}

variable "managed_login_version" {
  description = "Sign-in pages of the domain: 1 = the classic hosted UI, 2 = managed login (needs a branding style per app client, see the README)."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2], var.managed_login_version)
    error_message = "managed_login_version must be 1 (classic hosted UI) or 2 (managed login)."
  }
}

variable "user_pool_tier" {
  description = "Feature plan of the pool: LITE, ESSENTIALS or PLUS. Null: Cognito's default for a new pool (ESSENTIALS)."
  type        = string
  default     = null

  validation {
    condition     = var.user_pool_tier == null || contains(["LITE", "ESSENTIALS", "PLUS"], coalesce(var.user_pool_tier, "LITE"))
    error_message = "user_pool_tier must be LITE, ESSENTIALS or PLUS."
  }
}

variable "email_configuration" {
  description = "Who sends the pool's emails. Null: Cognito's own sender (COGNITO_DEFAULT, a few emails a day). DEVELOPER sends through your SES identity (source_arn)."
  type = object({
    email_sending_account  = optional(string, "COGNITO_DEFAULT")
    source_arn             = optional(string)
    from_email_address     = optional(string)
    reply_to_email_address = optional(string)
    configuration_set      = optional(string)
  })
  default = null

  validation {
    condition     = var.email_configuration == null || contains(["COGNITO_DEFAULT", "DEVELOPER"], try(var.email_configuration.email_sending_account, ""))
    error_message = "email_configuration.email_sending_account must be COGNITO_DEFAULT or DEVELOPER."
  }
  validation {
    condition     = var.email_configuration == null || try(var.email_configuration.email_sending_account != "DEVELOPER" || var.email_configuration.source_arn != null, false)
    error_message = "email_configuration: DEVELOPER sends through Amazon SES and needs source_arn, the ARN of a verified SES identity."
  }
  validation {
    condition     = var.email_configuration == null || try(var.email_configuration.source_arn == null || can(regex("^arn:aws[a-z-]*:ses:[a-z0-9-]+:[0-9]{12}:identity/.+$", var.email_configuration.source_arn)), false)
    error_message = "email_configuration.source_arn must be an SES identity ARN (arn:aws:ses:<region>:<account>:identity/<address or domain>)."
  }
  validation {
    condition     = var.email_configuration == null || try(var.email_configuration.email_sending_account == "DEVELOPER" || (var.email_configuration.from_email_address == null && var.email_configuration.configuration_set == null), false)
    error_message = "email_configuration: from_email_address and configuration_set need email_sending_account = DEVELOPER (Cognito's own sender takes neither)."
  }
  validation {
    condition = var.email_configuration == null || try(alltrue([
      for address in compact([var.email_configuration.from_email_address, var.email_configuration.reply_to_email_address]) :
      can(regex("^([^<>]+ <[^@\\s<>]+@[^@\\s<>]+\\.[^@\\s<>]+>|[^@\\s<>]+@[^@\\s<>]+\\.[^@\\s<>]+)$", address))
    ]), false)
    error_message = "email_configuration: from_email_address and reply_to_email_address must be an email address, or Name <address>."
  }
}

variable "lambda_triggers" {
  description = "Lambda functions (ARNs) Cognito calls at points of a user's life; each gets the invoke permission Cognito needs, scoped to this pool. pre_token_generation_config takes the function and its event version (V1_0: ID token claims; V2_0: ID and access tokens, claims and scopes; V3_0: also machine tokens)."
  type = object({
    pre_sign_up                    = optional(string)
    post_confirmation              = optional(string)
    pre_authentication             = optional(string)
    post_authentication            = optional(string)
    custom_message                 = optional(string)
    user_migration                 = optional(string)
    define_auth_challenge          = optional(string)
    create_auth_challenge          = optional(string)
    verify_auth_challenge_response = optional(string)
    pre_token_generation_config = optional(object({
      lambda_arn     = string
      lambda_version = optional(string, "V2_0")
    }))
  })
  default = {}

  validation {
    condition = alltrue([
      for arn in concat(
        [for name, arn in var.lambda_triggers : arn if name != "pre_token_generation_config" && arn != null],
        var.lambda_triggers.pre_token_generation_config == null ? [] : [var.lambda_triggers.pre_token_generation_config.lambda_arn],
      ) : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$", arn))
    ])
    error_message = "lambda_triggers ${join(", ", [for name, arn in merge({ for name, arn in var.lambda_triggers : name => arn if name != "pre_token_generation_config" && arn != null }, var.lambda_triggers.pre_token_generation_config == null ? {} : { pre_token_generation_config = var.lambda_triggers.pre_token_generation_config.lambda_arn }) : name if !can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$", arn))])}: a trigger is a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>])."
  }
  validation {
    condition     = var.lambda_triggers.pre_token_generation_config == null || contains(["V1_0", "V2_0", "V3_0"], try(var.lambda_triggers.pre_token_generation_config.lambda_version, ""))
    error_message = "lambda_triggers.pre_token_generation_config.lambda_version must be V1_0, V2_0 or V3_0."
  }
}

variable "groups" {
  description = "User groups keyed by name (they appear in the cognito:groups claim): precedence (lower wins when a user's groups carry roles), an optional IAM role and a description."
  type = map(object({
    precedence  = optional(number)
    role_arn    = optional(string)
    description = optional(string)
  }))
  default = {}

  validation {
    condition     = length([for name in keys(var.groups) : name if !can(regex("^[^\\s]{1,128}$", name))]) == 0
    error_message = "${join(", ", formatlist("groups[%q]", [for name in keys(var.groups) : name if !can(regex("^[^\\s]{1,128}$", name))]))}: group names must be 1-128 characters without spaces."
  }
  validation {
    condition     = length([for name, g in var.groups : name if g.precedence != null && !try(g.precedence >= 0 && floor(g.precedence) == g.precedence, false)]) == 0
    error_message = "${join(", ", formatlist("groups[%q]", [for name, g in var.groups : name if g.precedence != null && !try(g.precedence >= 0 && floor(g.precedence) == g.precedence, false)]))}: precedence must be a whole number of at least 0."
  }
  validation {
    condition     = length([for name, g in var.groups : name if g.role_arn != null && !can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", coalesce(g.role_arn, "-")))]) == 0
    error_message = "${join(", ", formatlist("groups[%q]", [for name, g in var.groups : name if g.role_arn != null && !can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", coalesce(g.role_arn, "-")))]))}: role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
  validation {
    condition     = length([for name, g in var.groups : name if(g.description == null ? 0 : length(g.description)) > 2048]) == 0
    error_message = "${join(", ", formatlist("groups[%q]", [for name, g in var.groups : name if(g.description == null ? 0 : length(g.description)) > 2048]))}: description must be at most 2048 characters."
  }
}

variable "custom_attributes" {
  description = "Custom user attributes keyed by name (custom:<name> in tokens and userInfo): type String, Number, DateTime or Boolean, mutable (true), developer_only (false) and, for String and Number, the length or value range. Cognito cannot remove or change one once created."
  type = map(object({
    type           = string
    mutable        = optional(bool, true)
    developer_only = optional(bool, false)
    min_length     = optional(number, 0)
    max_length     = optional(number, 2048)
    min_value      = optional(number)
    max_value      = optional(number)
  }))
  default = {}

  validation {
    condition     = length([for name in keys(var.custom_attributes) : name if !can(regex("^[A-Za-z0-9_-]{1,20}$", name))]) == 0
    error_message = "${join(", ", formatlist("custom_attributes[%q]", [for name in keys(var.custom_attributes) : name if !can(regex("^[A-Za-z0-9_-]{1,20}$", name))]))}: names must be 1-20 letters, digits, hyphens or underscores (without the custom: prefix)."
  }
  validation {
    condition     = length([for name, a in var.custom_attributes : name if !contains(["String", "Number", "DateTime", "Boolean"], a.type)]) == 0
    error_message = "${join(", ", formatlist("custom_attributes[%q]", [for name, a in var.custom_attributes : name if !contains(["String", "Number", "DateTime", "Boolean"], a.type)]))}: type must be String, Number, DateTime or Boolean."
  }
  validation {
    condition     = length([for name, a in var.custom_attributes : name if a.type == "String" && !(a.min_length >= 0 && a.max_length <= 2048 && a.min_length <= a.max_length)]) == 0
    error_message = "${join(", ", formatlist("custom_attributes[%q]", [for name, a in var.custom_attributes : name if a.type == "String" && !(a.min_length >= 0 && a.max_length <= 2048 && a.min_length <= a.max_length)]))}: a String's length range is 0 to 2048, with min_length <= max_length."
  }
  validation {
    condition     = length([for name, a in var.custom_attributes : name if a.type != "Number" && (a.min_value != null || a.max_value != null)]) == 0
    error_message = "${join(", ", formatlist("custom_attributes[%q]", [for name, a in var.custom_attributes : name if a.type != "Number" && (a.min_value != null || a.max_value != null)]))}: min_value and max_value apply to Number attributes only."
  }
  validation {
    condition     = length([for name, a in var.custom_attributes : name if a.type == "Number" && a.min_value != null && a.max_value != null && try(a.min_value > a.max_value, false)]) == 0
    error_message = "${join(", ", formatlist("custom_attributes[%q]", [for name, a in var.custom_attributes : name if a.type == "Number" && a.min_value != null && a.max_value != null && try(a.min_value > a.max_value, false)]))}: min_value must not be greater than max_value."
  }
}

variable "identity_providers" {
  description = "External identity providers keyed by provider name (what clients list in supported_identity_providers): type Google, OIDC or SAML. Google and OIDC take client_id (secret in identity_provider_client_secrets); OIDC takes issuer; SAML takes metadata_url. attribute_mapping maps pool attributes to the provider's."
  type = map(object({
    type                      = string
    client_id                 = optional(string)
    authorize_scopes          = optional(string, "openid email profile")
    issuer                    = optional(string)
    attributes_request_method = optional(string, "GET")
    metadata_url              = optional(string)
    idp_signout               = optional(bool, false)
    attribute_mapping         = optional(map(string), { email = "email" })
    idp_identifiers           = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = length([for name, p in var.identity_providers : name if !contains(["Google", "OIDC", "SAML"], p.type)]) == 0
    error_message = "${join(", ", formatlist("identity_providers[%q]", [for name, p in var.identity_providers : name if !contains(["Google", "OIDC", "SAML"], p.type)]))}: type must be Google, OIDC or SAML."
  }
  validation {
    condition     = length([for name, p in var.identity_providers : name if p.type == "Google" && name != "Google"]) == 0
    error_message = "${join(", ", formatlist("identity_providers[%q]", [for name, p in var.identity_providers : name if p.type == "Google" && name != "Google"]))}: Cognito names a Google provider \"Google\"; use that key."
  }
  validation {
    condition     = length([for name in keys(var.identity_providers) : name if !can(regex("^[^_\\s][^\\s]{0,30}[^_\\s]$|^[^_\\s]$", name)) || upper(name) == "COGNITO"]) == 0
    error_message = "${join(", ", formatlist("identity_providers[%q]", [for name in keys(var.identity_providers) : name if !can(regex("^[^_\\s][^\\s]{0,30}[^_\\s]$|^[^_\\s]$", name)) || upper(name) == "COGNITO"]))}: provider names are 1-32 characters without spaces, not starting or ending with _, and not COGNITO."
  }
  validation {
    condition     = length([for name, p in var.identity_providers : name if contains(["Google", "OIDC"], p.type) && p.client_id == null]) == 0
    error_message = "${join(", ", formatlist("identity_providers[%q]", [for name, p in var.identity_providers : name if contains(["Google", "OIDC"], p.type) && p.client_id == null]))}: Google and OIDC providers need the client_id Cognito signs in with."
  }
  validation {
    condition     = length([for name, p in var.identity_providers : name if p.type == "OIDC" && !startswith(coalesce(p.issuer, "-"), "https://")]) == 0
    error_message = "${join(", ", formatlist("identity_providers[%q]", [for name, p in var.identity_providers : name if p.type == "OIDC" && !startswith(coalesce(p.issuer, "-"), "https://")]))}: an OIDC provider needs its https:// issuer."
  }
  validation {
    condition     = length([for name, p in var.identity_providers : name if p.type == "OIDC" && !contains(["GET", "POST"], p.attributes_request_method)]) == 0
    error_message = "${join(", ", formatlist("identity_providers[%q]", [for name, p in var.identity_providers : name if p.type == "OIDC" && !contains(["GET", "POST"], p.attributes_request_method)]))}: attributes_request_method must be GET or POST."
  }
  validation {
    condition     = length([for name, p in var.identity_providers : name if p.type == "SAML" && !startswith(coalesce(p.metadata_url, "-"), "https://")]) == 0
    error_message = "${join(", ", formatlist("identity_providers[%q]", [for name, p in var.identity_providers : name if p.type == "SAML" && !startswith(coalesce(p.metadata_url, "-"), "https://")]))}: a SAML provider needs its https:// metadata_url."
  }
}

variable "identity_provider_client_secrets" {
  description = "Client secrets of the Google and OIDC identity providers, by provider name (kept apart so that only they are sensitive)."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "tags" {
  description = "Tags for the user pool."
  type        = map(string)
  default     = {}
}
