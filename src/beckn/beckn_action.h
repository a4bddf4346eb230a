/*
 * beckn_action.h - the Beckn core 1.1.0 action table and who may send or
 * receive which action.
 *
 * Contract: the table is static, read-only and complete for core 1.1.0
 * (transaction API and meta API).  Lookups never allocate; the returned
 * pointers are valid for the life of the process and may be compared by
 * address (one entry per action) or by id.
 *
 * Direction: a BECKN_REQUEST is sent by a BAP and received by a BPP; a
 * BECKN_CALLBACK is sent by a BPP and received by a BAP.  Every action has
 * exactly one pair of the other kind (search <-> on_search,
 * get_cancellation_reasons <-> cancellation_reasons, ...).
 */
#ifndef BECKND_BECKN_ACTION_H
#define BECKND_BECKN_ACTION_H

#include <stddef.h>

enum beckn_action_id {
	/* Transaction API requests (BAP -> BPP). */
	BECKN_A_SEARCH,
	BECKN_A_SELECT,
	BECKN_A_INIT,
	BECKN_A_CONFIRM,
	BECKN_A_STATUS,
	BECKN_A_TRACK,
	BECKN_A_CANCEL,
	BECKN_A_UPDATE,
	BECKN_A_RATING,
	BECKN_A_SUPPORT,
	/* Transaction API callbacks (BPP -> BAP). */
	BECKN_A_ON_SEARCH,
	BECKN_A_ON_SELECT,
	BECKN_A_ON_INIT,
	BECKN_A_ON_CONFIRM,
	BECKN_A_ON_STATUS,
	BECKN_A_ON_TRACK,
	BECKN_A_ON_CANCEL,
	BECKN_A_ON_UPDATE,
	BECKN_A_ON_RATING,
	BECKN_A_ON_SUPPORT,
	/* Meta API. */
	BECKN_A_GET_CANCELLATION_REASONS,
	BECKN_A_CANCELLATION_REASONS,
	BECKN_A_GET_RETURN_REASONS,
	BECKN_A_RETURN_REASONS,
	BECKN_A_GET_RATING_CATEGORIES,
	BECKN_A_RATING_CATEGORIES,
	BECKN_ACTION_COUNT
};

enum beckn_kind {
	BECKN_REQUEST,		/* BAP -> BPP */
	BECKN_CALLBACK,		/* BPP -> BAP */
};

enum beckn_role {
	BECKN_ROLE_BAP,		/* receives callbacks, sends requests */
	BECKN_ROLE_BPP,		/* receives requests, sends callbacks */
	BECKN_ROLE_GATEWAY,	/* receives and forwards search only */
};

struct beckn_action {
	enum beckn_action_id		 id;
	const char			*name;
	size_t				 namelen;
	enum beckn_kind			 kind;
	/*
	 * 0 for the meta requests (get_*_reasons, get_rating_categories):
	 * their core schema has a context and nothing else.
	 */
	int				 has_message;
	const struct beckn_action	*pair;
};

/* Exact, case-sensitive match; NULL when name is not a core action. */
const struct beckn_action *beckn_action_find(const char *name);
/* Same for a counted string (a URL path segment); name need not be
 * NUL-terminated. */
const struct beckn_action *beckn_action_findn(const char *name, size_t len);
/* Entry for id; NULL when id is out of range. */
const struct beckn_action *beckn_action_get(enum beckn_action_id id);

/*
 * 1 when a participant of this role accepts the action on its own
 * receiving endpoint.  Our gateway receives search only: on_search goes
 * from each BPP straight to the bap_uri in the context, never through the
 * gateway.  NULL action: 0.
 */
int		 beckn_role_receives(enum beckn_role, const struct beckn_action *);
/*
 * 1 when a participant of this role originates the action: a BAP sends
 * requests, a BPP callbacks, the gateway only (re-)sends search to BPPs.
 */
int		 beckn_role_sends(enum beckn_role, const struct beckn_action *);
/* "bap", "bpp", "gateway" (for logs). */
const char	*beckn_role_name(enum beckn_role);
/* The registry's subscriber type of a role: "BAP", "BPP", "BG". */
const char	*beckn_role_type(enum beckn_role);

#endif
