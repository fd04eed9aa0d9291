// Package condition owns the plain-English alert condition of the API
// ("temperature exceeds 30 for 5 minutes", "no data received for 10 minutes"):
// parsing it into a Condition, printing a Condition back in a canonical form,
// and the threshold comparison a rule applies to each value.
package condition
