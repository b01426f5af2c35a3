"""Templates `earshot new-source` renders (see `monitor.scaffold`).

They are Python string constants rather than data files so they ship with the package
without any package-data configuration. Placeholders are `string.Template` ones:
`${name}` (the plugin name), `${cls}` (the class-name stem), `${title}` (a display name)
and `${token_env}` (the environment variable holding the credential); a literal dollar
sign is written `$$`.
"""
