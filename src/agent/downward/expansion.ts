/**
 * Kubernetes' `$(VAR)` expansion (third_party/forked/golang/expansion), used for env values,
 * command/args and `subPathExpr`: `$(NAME)` is replaced by mapping(NAME), `$$` is a literal `$`,
 * and anything else (`$x`, an unterminated `$(`, a trailing `$`) is kept as written.
 */

/** Expands `input`, asking `mapping` for every well-formed `$(NAME)` reference. */
export function expand(input: string, mapping: (name: string) => string): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    if (next === '$') {
      out += '$'; // escaped operator
      cursor += 1;
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close < 0) {
        out += '$('; // incomplete reference: kept literally
        cursor += 1;
      } else {
        out += mapping(input.slice(cursor + 2, close));
        cursor = close;
      }
    } else {
      out += `$${next}`; // an operator that starts no expression
      cursor += 1;
    }
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/**
 * The mapping upstream's MappingFuncFor builds: the first map holding the name wins; unknown names
 * expand to their own reference text, so `$(UNDEFINED)` stays visible instead of vanishing.
 */
export function mappingFor(...maps: ReadonlyMap<string, string>[]): (name: string) => string {
  return (name) => {
    for (const m of maps) {
      const v = m.get(name);
      if (v !== undefined) return v;
    }
    return `$(${name})`;
  };
}
