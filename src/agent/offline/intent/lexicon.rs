//! The English side of the lexicon, and the words both languages share.
//!
//! Each row is one class of phrasings for one meaning, written in the pattern notation of
//! [`expand`](super::spelling::expand): `/` separates alternatives, `?` marks a slot that may be
//! left out, `_` joins words. Rows are grouped by intent: the verbs that say it outright, and the
//! idioms that say it without the verb (a note or a list to put something on, a thing said to be
//! over or no longer needed). Roman Urdu rows live in `urdu`.

use super::vocabulary::{Canon, Tag};

/// English and shared phrase classes.
pub(super) const ROWS: &[(Canon, Tag, &str)] = &[
    // Showing the list.
    (Canon::List, Tag::Neutral, "list"),
    (
        Canon::List,
        Tag::English,
        "show me?|display|view|see|let_me/lemme see|pull/bring up",
    ),
    // Removing a task: verbs, and a task said to be no longer needed.
    (Canon::Delete, Tag::Neutral, "delete|del|remove|cancel"),
    (
        Canon::Delete,
        Tag::English,
        "erase|discard|drop|trash|scrap|ditch|get rid of|deleted|removed|forget about?|\
         never_mind/nevermind|no need for/of|dont/do_not/no_longer need|\
         not/isnt/arent/no_longer/is_not/are_not needed/required",
    ),
    // Adding a task: verbs, and the note / list / memory metaphors that need no "add".
    (Canon::Add, Tag::Neutral, "add|new task|note"),
    (
        Canon::Add,
        Tag::English,
        "create|insert|make a/an? new? task/todo|new todo|jot|put/note/write/jot it/that/this? down|\
         pencil in",
    ),
    (
        Canon::Remind,
        Tag::English,
        "remind me? to/about/of?|reminder|remember to|\
         can/could/will/would you/u remember to|\
         dont/do_not/never let me forget to/about?|dont/do_not forget to/about?|\
         keep/bear in mind that?|make a note to/of/about/that?|\
         set/save/add/create a/an? new? reminder to/for/about/of?|\
         i? need a reminder to/for/about/of?|reminder to/for/about",
    ),
    // Things put on (or taken off) a list: "stick milk on the list", "take it off my list".
    (
        Canon::Place,
        Tag::English,
        "put|stick|throw|pop|slap|toss|chuck|take",
    ),
    // Completing a task: verbs, and a task said to be over or handled.
    (
        Canon::Done,
        Tag::Neutral,
        "done|complete|completed|finish|finished",
    ),
    (
        Canon::Done,
        Tag::English,
        "completes|finishes|accomplished|did|tick/check/cross/mark off|\
         ticked/checked/crossed/marked off|wrap/wrapped up|is/are/all? sorted|sorted out|\
         got sorted|taken care of|is/are over|all/im/i_am? done with|all done|\
         finished with|out of the way",
    ),
    // Changing a task.
    (Canon::Update, Tag::Neutral, "update|change|edit"),
    (Canon::Update, Tag::English, "modify|alter|updated|changed"),
    (Canon::Rename, Tag::English, "rename|retitle"),
    (Canon::Move, Tag::Neutral, "move|shift"),
    (
        Canon::Move,
        Tag::English,
        "reschedule|postpone|push back?|delay|prepone|bump|bring forward|move up",
    ),
    (Canon::Weak, Tag::English, "set|make|mark"),
    // The fields of a task.
    (Canon::Naam, Tag::English, "name|title|heading"),
    (Canon::Prio, Tag::Neutral, "priority|prio"),
    (Canon::DateWord, Tag::English, "due date|deadline|date"),
    // Words for tasks, and for which ones.
    (Canon::Task, Tag::Neutral, "task|tasks"),
    (
        Canon::Task,
        Tag::English,
        "todo|todos|to do list|todo list|task list|items|item|reminders|chores|have/need to do",
    ),
    (
        Canon::Pending,
        Tag::English,
        "pending|remaining|open|incomplete|unfinished|undone|outstanding|\
         not done/completed/finished|left",
    ),
    (Canon::All, Tag::English, "all|every|everything"),
    (Canon::Question, Tag::English, "what|whats|which|how many"),
    // Conversation.
    (
        Canon::Greet,
        Tag::English,
        "hi|hello|hey|hiya|heya|yo|howdy|hola|greetings|good morning/evening/afternoon|\
         hi/hello/hey there|how are you|how r u|whats up|sup",
    ),
    (
        Canon::Help,
        Tag::English,
        "help me?|what can you/u do|what do you do|what else can you do|what are you|\
         commands|command list|how does this/it work|guide|options|features|menu|\
         instructions|usage|capabilities",
    ),
    (
        Canon::HowTo,
        Tag::English,
        "how do i|how can i|how to|how do you|how should i",
    ),
    (
        Canon::Prev,
        Tag::English,
        "it|this|that|this/that one|the? last one|the? previous one|the? same one",
    ),
    (Canon::NumMark, Tag::Neutral, "#|number|num|no|nr|nmbr"),
    // Words around a request that belong to no title: "… for me", "thank you".
    (
        Canon::Filler,
        Tag::English,
        "for me|thank you/u|by the way|if you can|when you can|for now",
    ),
];
