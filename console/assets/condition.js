// condition.js: the alert condition grammar of internal/condition, in the
// browser, for the live preview while a rule is typed. The API has no
// endpoint that only checks a condition (POST /api/alerts creates the
// rule), so the console parses with the same rules; the server's answer
// stays the authority when the rule is saved.
"use strict";

(function () {
  const PHRASES = [
    [["is", "greater", "than"], "gt"], [["exceeds"], "gt"], [["is", "above"], "gt"],
    [["is", "less", "than"], "lt"], [["drops", "below"], "lt"], [["is", "below"], "lt"],
    [["equals"], "eq"], [["is", "equal", "to"], "eq"], [["is", "not", "equal", "to"], "ne"],
    [["is", "at", "least"], "gte"], [["is", "at", "most"], "lte"],
  ];
  const SYMBOLS = { gt: ">", lt: "<", eq: "==", ne: "!=", gte: ">=", lte: "<=", nodata: "no data" };
  const UNITS = { minute: 1, minutes: 1, min: 1, mins: 1, hour: 60, hours: 60, hr: 60, hrs: 60 };
  const MAX_MINUTES = 7 * 24 * 60;
  const FIELD = /^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$/;
  const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const EX = 'as in "temperature exceeds 30"', EX_FOR = 'as in "for 5 minutes" or "for 2 hours"', EX_NODATA = 'as in "no data received for 10 minutes"';
  const lower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const eq = (a, b) => lower(a) === b;

  function match(toks) {
    outer: for (const [words, op] of PHRASES) {
      if (words.length > toks.length) continue;
      for (let k = 0; k < words.length; k++) if (!eq(toks[k], words[k])) continue outer;
      return [op, words.length];
    }
    return ["", 0];
  }

  function duration(toks, i) {
    if (i >= toks.length) throw 'expected a duration after "for", ' + EX_FOR;
    const num = toks[i];
    if (!/^\d+$/.test(num)) throw 'expected a whole number of minutes or hours after "for" but got "' + num + '", ' + EX_FOR;
    if (i + 1 >= toks.length) throw 'expected "minutes" or "hours" after "for ' + num + '", ' + EX_FOR;
    const unit = toks[i + 1], mult = UNITS[lower(unit)];
    if (!mult) throw 'expected "minutes" or "hours" after "for ' + num + '" but got "' + unit + '", ' + EX_FOR;
    const n = Number(num);
    if (n > Math.floor(MAX_MINUTES / mult)) throw 'duration "' + num + " " + unit + '" is too long; at most ' + MAX_MINUTES + " minutes (7 days) is allowed";
    if (n === 0) throw 'duration must be at least 1 minute, not "' + num + " " + unit + '"';
    if (i + 2 < toks.length) throw 'unexpected "' + toks[i + 2] + '" after "for ' + num + " " + unit + '"; the duration ends the condition';
    return n * mult;
  }

  function parse(input) {
    if ([...input].length > 500) throw "it is " + [...input].length + " characters long; at most 500 are allowed";
    let body = input.trim();
    if (body.endsWith(".")) body = body.slice(0, -1);
    if (body.endsWith(".")) throw "it ends in more than one period; at most one may end it";
    const toks = body.split(/\s+/).filter(Boolean);
    if (toks.length === 0) throw "it is empty; expected a field, a comparison and a number, " + EX + ", or " + EX_NODATA;
    if (toks.length >= 2 && eq(toks[0], "no") && eq(toks[1], "data")) {
      let i = 2;
      if (i < toks.length && eq(toks[i], "received")) i++;
      if (i >= toks.length || !eq(toks[i], "for")) throw 'expected "for" and a duration after "' + toks.slice(0, i).join(" ") + '", ' + EX_NODATA;
      return { field: null, operator: "nodata", value: null, durationMinutes: duration(toks, i + 1) };
    }
    const field = toks[0];
    if (!FIELD.test(field)) throw 'field name "' + field + '" must start with a letter or "_" and contain only letters, digits, "_", "." or "-" (at most 64 characters)';
    if (toks.length === 1) throw 'expected a comparison after "' + field + '", one of ' + PHRASES.map((p) => '"' + p[0].join(" ") + '"').join(", ") + "; " + EX;
    const [op, n] = match(toks.slice(1));
    if (!op) {
      if (match(toks)[0]) throw 'expected a field name before "' + toks[0] + '", ' + EX;
      for (let j = 2; j < toks.length; j++) {
        if (match(toks.slice(j))[0]) throw 'field names cannot contain spaces, but "' + toks.slice(0, j).join(" ") + '" comes before "' + toks[j] + '"; expected a single word such as "room_temp"';
      }
      throw 'expected a comparison after "' + field + '", one of ' + PHRASES.map((p) => '"' + p[0].join(" ") + '"').join(", ") + "; " + EX;
    }
    const opText = toks.slice(1, 1 + n).join(" ");
    let i = 1 + n;
    if (i >= toks.length) throw 'expected a number after "' + opText + '", ' + EX;
    const numTok = toks[i];
    if (/^[+-]?(nan|inf|infinity)$/i.test(numTok)) throw 'expected a number after "' + opText + '" but got "' + numTok + '" (it must be a finite number), ' + EX;
    if (!NUMBER.test(numTok)) throw 'expected a number after "' + opText + '" but got "' + numTok + '" (it must be a plain decimal number such as 30, -2.5 or 1e3), ' + EX;
    let value = Number(numTok);
    if (!isFinite(value)) throw 'expected a number after "' + opText + '" but got "' + numTok + '" (it is out of range), ' + EX;
    if (value === 0) value = 0;
    i++;
    const c = { field, operator: op, value };
    if (i === toks.length) return c;
    if (!eq(toks[i], "for")) throw 'unexpected "' + toks[i] + '" after the number ' + toks[i - 1] + "; only a duration may follow, " + EX_FOR;
    c.durationMinutes = duration(toks, i + 1);
    return c;
  }

  // D.parseCondition returns {ok: true, condition, text} or {ok: false, reason}.
  // schema, if given, is the source's schema: the field must be a number field.
  D.parseCondition = function (input, schema) {
    let c;
    try { c = parse(input); } catch (reason) { return { ok: false, reason: String(reason) }; }
    if (schema && c.field !== null) {
      const f = schema[c.field];
      if (!f) return { ok: false, reason: "Field '" + c.field + "' is not in the data source's schema", condition: c };
      if (f.type !== "number") return { ok: false, reason: "Field '" + c.field + "' is not numeric", condition: c };
    }
    return { ok: true, condition: c, text: D.describeCondition(c) };
  };

  D.describeCondition = function (c) {
    const dur = (m) => (m % 60 === 0 ? m / 60 + (m === 60 ? " hour" : " hours") : m + (m === 1 ? " minute" : " minutes"));
    if (c.operator === "nodata") return "no data for " + dur(c.durationMinutes);
    return c.field + " " + SYMBOLS[c.operator] + " " + c.value + (c.durationMinutes ? " for " + dur(c.durationMinutes) : "");
  };
})();
