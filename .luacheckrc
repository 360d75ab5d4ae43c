-- luacheck configuration (tools/lint.sh)
std = "lua54"
max_line_length = 140
codes = true
exclude_files = { "sim/**", "**/node_modules/**", ".venv/**", "build/**" }

-- busted's globals in specs
files["spec/**/*_spec.lua"] = { std = "+busted" }
files["spec/**/*.lua"] = { std = "+busted" }
files[".busted"] = { std = "lua54" }
