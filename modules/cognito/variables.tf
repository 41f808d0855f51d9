variable "name" {
  description = "Name of the user pool; with a null domain_prefix it also starts the domain prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$", var.name)) && !can(regex("aws|amazon|cognito", var.name))
    error_message = "name must be 1-40 lower-case letters, digits or inner hyphens, without aws, amazon or cognito (it starts the Cognito domain prefix)."
  }
}

variable "domain_prefix" {
  description = "Prefix of the managed login domain (https://<prefix>.auth.<region>.amazoncognito.com). Null: <name>-<12 hex chars derived from the pool id>, unique per pool."
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
  EOT
  type = map(object({
    kind                           = string
    scopes                         = list(string)
    callback_urls                  = optional(list(string), [])
    logout_urls                    = optional(list(string), [])
    generate_secret                = optional(bool)
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
    condition     = length(flatten([for name, c in var.clients : [for url in concat(c.callback_urls, c.logout_urls) : format("clients[%q] %s", name, url) if !can(regex(local.redirect_url_pattern, url))]])) == 0
    error_message = "${join(", ", flatten([for name, c in var.clients : [for url in concat(c.callback_urls, c.logout_urls) : format("clients[%q] %s", name, url) if !can(regex(local.redirect_url_pattern, url))]]))}: callback and logout URLs must be https://, or http://localhost for development, with no fragment."
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

variable "tags" {
  description = "Tags for the user pool."
  type        = map(string)
  default     = {}
}
