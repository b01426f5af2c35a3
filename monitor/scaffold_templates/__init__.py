"""Templates `earshot new-source` and `earshot new-channel` render (see `monitor.scaffold`).

They are Python string constants rather than data files so they ship with the package
without any package-data configuration. Placeholders are `string.Template` ones:
`${name}` (the plugin name), `${cls}` (the class-name stem), `${title}` (a display name)
and each kind's own (`${token_env}`, the variable holding a source's credential;
`${url_env}` and `${upper}`, a channel's webhook variable); a literal dollar sign is `$$`.
"""
