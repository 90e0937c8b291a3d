package silver

// eachField calls visit with each top-level key of the JSON object in line (as written, still
// escaped) and its value's JSON text (a string with its quotes), in order, without decoding
// anything. It stops at the first byte that breaks the object's syntax, having visited the
// fields before it. The events merge reads fourteen fields of each bronze line this way: a
// general JSON reader spent a sixth of the merge finding them.
func eachField(line []byte, visit func(key, value []byte)) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return
	}
	for i < len(line) && line[i] == '"' {
		keyEnd := stringEnd(line, i)
		if keyEnd < 0 {
			return
		}
		key := line[i+1 : keyEnd-1]
		i = skipSpace(line, keyEnd)
		if i >= len(line) || line[i] != ':' {
			return
		}
		i = skipSpace(line, i+1)
		end := valueEnd(line, i)
		if end < 0 {
			return
		}
		visit(key, line[i:end])
		i = skipSpace(line, end)
		if i >= len(line) || line[i] != ',' {
			return // '}' ends the object; anything else breaks it
		}
		i = skipSpace(line, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] (a quote), or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++ // the escaped byte, whatever it is
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the value starting at b[i], or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
