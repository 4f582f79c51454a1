/* polyraft from C: a one-node cluster that elects itself, commits three
 * proposals and applies them. Build:
 *   cc -std=c99 example.c $(pkg-config --cflags --libs polyraft) -o example
 */
#include <stdio.h>
#include <string.h>

#include <polyraft.h>

#define TRY(call)                                                              \
    do {                                                                       \
        polyraft_result rc_ = (call);                                          \
        if (rc_ != POLYRAFT_OK) {                                              \
            fprintf(stderr, "%s: %s\n", #call, polyraft_result_str(rc_));      \
            return 1;                                                          \
        }                                                                      \
    } while (0)

/* Persist, send, apply, advance: the loop every application runs. */
static int handle_ready(polyraft_node *node, polyraft_memory_storage *storage) {
    const polyraft_ready *rd;
    const polyraft_entry *ents;
    const polyraft_message *msgs;
    polyraft_hard_state hs;
    bool has_hs;
    size_t n, i;

    TRY(polyraft_node_ready(node, &rd));
    /* 1. Persist new entries and the hard state. */
    TRY(polyraft_ready_entries(rd, &ents, &n));
    TRY(polyraft_memory_storage_append(storage, ents, n));
    TRY(polyraft_ready_hard_state(rd, &hs, &has_hs));
    if (has_hs) TRY(polyraft_memory_storage_set_hard_state(storage, &hs));
    /* 2. Send messages: msgs[i].bytes go to node msgs[i].to, whose
          application calls polyraft_node_step. (One node: none.) */
    TRY(polyraft_ready_messages(rd, &msgs, &n));
    for (i = 0; i < n; i++) printf("send %zu bytes to %llu\n", msgs[i].bytes_len, (unsigned long long)msgs[i].to);
    /* 3. Apply committed entries. */
    TRY(polyraft_ready_committed_entries(rd, &ents, &n));
    for (i = 0; i < n; i++) {
        if (ents[i].entry_type == POLYRAFT_ENTRY_NORMAL) {
            if (ents[i].data_len > 0)
                printf("applied %llu: %.*s\n", (unsigned long long)ents[i].index, (int)ents[i].data_len,
                       (const char *)ents[i].data);
        } else {
            polyraft_conf_state cs;
            TRY(polyraft_node_apply_conf_change(node, ents[i].entry_type, ents[i].data, ents[i].data_len, &cs));
            printf("configuration now has %zu voter(s)\n", cs.voters_len);
        }
    }
    /* 4. Tell the node everything is done. The views above die here. */
    TRY(polyraft_node_advance(node));
    return 0;
}

static int run_until_idle(polyraft_node *node, polyraft_memory_storage *storage) {
    bool has = true;
    while (has) {
        TRY(polyraft_node_has_ready(node, &has));
        if (has && handle_ready(node, storage)) return 1;
    }
    return 0;
}

static int example(polyraft_node *node, polyraft_memory_storage *storage) {
    const char *proposals[] = {"set x = 1", "set y = 2", "del x"};
    polyraft_basic_status st;
    polyraft_peer self;
    int i;

    memset(&self, 0, sizeof self);
    self.id = 1;
    TRY(polyraft_node_bootstrap(node, &self, 1));
    if (run_until_idle(node, storage)) return 1;

    TRY(polyraft_node_campaign(node));
    if (run_until_idle(node, storage)) return 1;
    TRY(polyraft_node_basic_status(node, &st));
    printf("node %llu is %s at term %llu\n", (unsigned long long)st.id,
           st.soft_state.raft_state == POLYRAFT_STATE_LEADER ? "leader" : "not leader",
           (unsigned long long)st.hard_state.term);

    for (i = 0; i < 3; i++) {
        TRY(polyraft_node_propose(node, (const uint8_t *)proposals[i], strlen(proposals[i])));
        if (run_until_idle(node, storage)) return 1;
    }
    return 0;
}

int main(void) {
    polyraft_memory_storage *storage = NULL;
    polyraft_node *node = NULL;
    polyraft_buffer *err = NULL;
    polyraft_config cfg;
    int rc;

    printf("%s\n", polyraft_version());
    if (polyraft_version_number() != POLYRAFT_VERSION_NUMBER) {
        fprintf(stderr, "polyraft.h is %s, the library is %s\n", POLYRAFT_VERSION_STRING, polyraft_version());
        return 1;
    }
    TRY(polyraft_memory_storage_new(&storage));
    TRY(polyraft_config_init(&cfg));
    cfg.id = 1;
    cfg.log_level = POLYRAFT_LOG_WARN;
    if (polyraft_node_new_memory(&cfg, storage, &node, &err) != POLYRAFT_OK) {
        const uint8_t *why = NULL;
        size_t len = 0;
        polyraft_buffer_data(err, &why, &len);
        fprintf(stderr, "cannot create node: %.*s\n", (int)len, why ? (const char *)why : "");
        polyraft_buffer_free(err);
        polyraft_memory_storage_free(storage);
        return 1;
    }
    rc = example(node, storage);
    polyraft_node_free(node);
    polyraft_memory_storage_free(storage); /* the node held its own reference */
    return rc;
}
