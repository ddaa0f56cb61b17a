# embed.cmake - write a C file that holds a data file's bytes (cmake -DIN=... -DOUT=... -DSYM=...
# -P embed.cmake): rules/builtin.yaml becomes bh_rules_builtin()'s text, so the binary needs no
# file at run time and the rules stay reviewable data.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],)" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp" "/* generated from ${IN} by cmake/embed.cmake: do not edit */\n#include <stddef.h>\n\nconst char *${SYM}(size_t *len);\n\nstatic const char data[${bytes} + 1] = {\n${body}0};\n\nconst char *\n${SYM}(size_t *len)\n{\n\t*len = ${bytes};\n\treturn data;\n}\n")
file(RENAME "${OUT}.tmp" "${OUT}")
